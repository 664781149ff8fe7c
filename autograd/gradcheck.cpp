#include "heed/autograd/gradcheck.h"

#include <cmath>
#include <iostream>

#include "heed/autograd/grad_mode.h"
#include "heed/core/copy.h"

namespace heed {

namespace {
// Sets element `flat` (row-major) of a contiguous float64 tensor.
double& element(Tensor& t, int64_t flat) { return t.data_ptr<double>()[flat]; }
}  // namespace

bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
               const GradcheckOptions& opt, std::string* report) {
  // Fresh float64 leaves that we own and may perturb: the caller's tensors stay untouched.
  TensorList xs;
  for (const Tensor& t : inputs) {
    if (!is_floating(t.dtype())) {
      xs.push_back(t);
      continue;
    }
    Tensor x = copy_of(t, kFloat64);  // fresh and contiguous: element(x, k) below relies on it
    x.requires_grad_();
    xs.push_back(x);
  }

  // Grad mode on for the analytic pass, even when the caller is inside a
  // NoGradGuard: without a graph every analytic derivative would read as 0.
  GradModeGuard grad_on(true);
  Tensor out = fn(xs);
  const int64_t n_out = out.numel();

  // Analytic Jacobian, row j: backward with a one-hot gradient at output j.
  // jac[i][j * n_in + k] = d out_j / d xs[i]_k
  std::vector<std::vector<double>> analytic(xs.size());
  for (size_t i = 0; i < xs.size(); ++i)
    if (is_floating(xs[i].dtype())) analytic[i].assign(n_out * xs[i].numel(), 0.0);
  if (out.requires_grad()) {
    for (int64_t j = 0; j < n_out; ++j) {
      for (Tensor& x : xs)
        if (is_floating(x.dtype())) x.zero_grad();
      Tensor onehot = Tensor::zeros(out.shape(), out.dtype());
      dispatch_floating(onehot.dtype(), [&](auto tag) { onehot.data_ptr<decltype(tag)>()[j] = 1; });
      out.backward(onehot, /*retain_graph=*/true);
      for (size_t i = 0; i < xs.size(); ++i) {
        if (!is_floating(xs[i].dtype()) || !xs[i].grad().defined()) continue;
        std::vector<double> g = xs[i].grad().to_vector<double>();
        std::copy(g.begin(), g.end(), analytic[i].begin() + j * xs[i].numel());
      }
    }
  }

  // Numerical Jacobian, column by column: nudge one input element both ways.
  NoGradGuard no_grad;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!is_floating(xs[i].dtype())) continue;
    Tensor& x = xs[i];
    for (int64_t k = 0; k < x.numel(); ++k) {
      double orig = element(x, k);
      element(x, k) = orig + opt.eps;
      std::vector<double> plus = fn(xs).to_vector<double>();
      element(x, k) = orig - opt.eps;
      std::vector<double> minus = fn(xs).to_vector<double>();
      element(x, k) = orig;
      for (int64_t j = 0; j < n_out; ++j) {
        double numeric = (plus[j] - minus[j]) / (2 * opt.eps);
        double a = analytic[i][j * x.numel() + k];
        if (!(std::abs(a - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
          std::string text = msg("gradcheck: input ", i, " (shape ", x.shape(), "), element ", k,
                                 ", output element ", j, ": backward gives ", a,
                                 ", central differences give ", numeric);
          // Said once: in `report` when the caller asked for it, else on stderr.
          if (report)
            *report = text;
          else
            std::cerr << text << "\n";
          return false;
        }
      }
    }
  }
  return true;
}

}  // namespace heed
