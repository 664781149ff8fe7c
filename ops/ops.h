// heed's operators: every differentiable function of tensors.
//
// Each op is a free function whose backward sits right after its forward, in
// the file of its family (ops/elementwise.cpp, ops/softmax.cpp, ...). Each file
// starts an op with three lines: the forward formula, the backward formula, and
// what it saves for backward.
//
// Adding an op touches three places, no more (there is no enum, registry or
// code generation to update):
//   1. its declaration, in the family header below (with a one-line formula);
//   2. its forward and backward, in the family's .cpp: compute the result, then
//        if (!needs_grad({x})) return y;
//        return record("name", y, {x}, [saved...](const Tensor& dy) -> TensorList {...});
//      (autograd/node.h explains record() and SavedTensor);
//   3. its tests, in tests/test_<family>.cpp: values, a float64 gradcheck, and
//      each error it raises.
// An op whose loops need to be fast gets a kernel (ops/kernels/kernels.h): a
// plain reference version, a fast one beside it, and a test that they agree
// (tests/kernels/); the op file keeps the math and calls kernels::name().
#pragma once

#include "heed/ops/activation.h"
#include "heed/ops/attention.h"
#include "heed/ops/dropout.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/embedding.h"
#include "heed/ops/index.h"
#include "heed/ops/layer_norm.h"
#include "heed/ops/linalg.h"
#include "heed/ops/loss.h"
#include "heed/ops/lstm.h"
#include "heed/ops/mask.h"
#include "heed/ops/reduce.h"
#include "heed/ops/softmax.h"
#include "heed/ops/view.h"
