// heed: a small deep-learning framework in C++20.
//
//   #include <heed/heed.h>
//   using namespace heed;
//
//   manual_seed(0);
//   Tensor w = Tensor::randn({3, 1}).requires_grad_();
//   Tensor x = Tensor::randn({8, 3});
//   Tensor loss = matmul(x, w).pow(2).mean();
//   loss.backward();                       // w.grad() now holds d loss / d w
//
// The tour of the code, bottom up; each folder is a layer, a CMake target that
// links only the layers above it in this list (docs/README.md has the picture):
//   core/         storage, shape and strides, the Tensor handle, factories, printing
//   autograd/     graph nodes, the backward engine, no-grad mode, gradcheck
//   ops/          every differentiable op, each with its backward (ops/ops.h)
//   ops/kernels/  the loops behind the ops: reference and fast versions (kernels.h)
//   data/         datasets, samplers, batching, the DataLoader (data/data.h)
//   nn/           modules, layers, losses, checkpoints (nn/nn.h)
//   optim/        optimizers, schedulers, the resumable training state (optim/optim.h)
//   dist/         training across processes over MPI, where heed was built with it (dist/dist.h)
//   train/        the training kit: progress bar, metrics log, gradient accumulation (train/train.h)
#pragma once

#include "heed/autograd/anomaly.h"
#include "heed/autograd/engine.h"
#include "heed/autograd/grad_mode.h"
#include "heed/autograd/gradcheck.h"
#include "heed/autograd/graphviz.h"
#include "heed/autograd/node.h"
#include "heed/core/dtype.h"
#include "heed/core/error.h"
#include "heed/core/half.h"
#include "heed/core/profiler.h"
#include "heed/core/random.h"
#include "heed/core/shape.h"
#include "heed/core/tensor.h"
#include "heed/data/data.h"
#include "heed/nn/nn.h"
#include "heed/ops/ops.h"
#include "heed/optim/optim.h"
#include "heed/train/train.h"
#if __has_include("heed/dist/dist.h")  // built only where CMake found MPI; it defines HEED_HAS_DIST
#include "heed/dist/dist.h"
#else
#define HEED_HAS_DIST 0
#endif
