// Everything in heed::optim: optimizers and learning-rate schedulers.
#pragma once

#include "heed/optim/adam.h"
#include "heed/optim/optimizer.h"
#include "heed/optim/plateau.h"
#include "heed/optim/scheduler.h"
#include "heed/optim/sgd.h"
#include "heed/optim/training_state.h"
