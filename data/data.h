// The data layer: datasets, samplers, collate functions and the DataLoader.
// It sits above ops (it batches with stack and copy_) and below nn, so models
// may use it and it never depends on them.
#pragma once

#include "heed/data/collate.h"
#include "heed/data/dataset.h"
#include "heed/data/loader.h"
#include "heed/data/sampler.h"
#include "heed/data/text.h"
