// Everything in heed::nn: modules, layers, losses, initializers, checkpoints.
#pragma once

#include "heed/nn/activation.h"
#include "heed/nn/attention.h"
#include "heed/nn/dropout.h"
#include "heed/nn/embedding.h"
#include "heed/nn/init.h"
#include "heed/nn/layer_norm.h"
#include "heed/nn/linear.h"
#include "heed/nn/loss.h"
#include "heed/nn/lstm.h"
#include "heed/nn/module.h"
#include "heed/nn/multihead_attention.h"
#include "heed/nn/sequential.h"
#include "heed/nn/serialize.h"
#include "heed/nn/state_dict.h"
#include "heed/nn/utils.h"
