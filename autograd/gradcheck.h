// gradcheck: compares the gradients backward() computes with central
// differences, (f(x + eps) - f(x - eps)) / 2 eps, element by element.
//
// Use it to test your own ops, as heed's tests do:
//   CHECK(gradcheck([](const TensorList& x) { return tanh(x[0]); },
//                   {Tensor::randn({3, 4}, kFloat64)}));
//
// Inputs should be float64: in float32, rounding in f(x +- eps) swamps the
// difference. Every floating input is checked (its requires_grad is set on a copy);
// int64 inputs (indices) are passed through unchanged. The full Jacobian is
// built, one backward per output element, so keep the tensors small.
//
// The copies are fresh contiguous leaves, so to check an op on a non-contiguous
// input, make the view inside fn:  [](const TensorList& x) { return tanh(x[0].t()); }
// Grad mode is switched on for the analytic pass, so gradcheck also works when
// called inside a NoGradGuard.
#pragma once

#include <functional>
#include <string>

#include "heed/autograd/node.h"

namespace heed {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

// True when every analytic derivative d out_j / d in_i matches the numerical one
// within atol + rtol * |numerical|. On a mismatch it returns false and, if
// `report` is given, writes the input, element, and both values there.
bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
               const GradcheckOptions& options = {}, std::string* report = nullptr);

}  // namespace heed
