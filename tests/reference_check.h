// Helpers for tests against PyTorch reference values (tests/reference/*.py):
// load a fixture file, compare a tensor with a reference one and report the
// largest error, and gradcheck a module's parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "heed/autograd/grad_mode.h"
#include "heed/nn/module.h"
#include "heed/nn/serialize.h"
#include "helpers.h"

namespace heed::test {

// tests/reference/fixtures/<name>, found beside this file.
inline std::string fixture_path(const std::string& name) {
  return (std::filesystem::path(__FILE__).parent_path() / "reference" / "fixtures" / name).string();
}

// The tensors of fixture file `file` (read once per test run), and one of them.
inline const StateDict& fixture_file(const std::string& file) {
  static std::map<std::string, StateDict> loaded;
  auto it = loaded.find(file);
  if (it == loaded.end()) it = loaded.emplace(file, load_safetensors(fixture_path(file))).first;
  return it->second;
}
inline Tensor fixture(const std::string& file, const std::string& name) { return fixture_file(file).at(name); }
// The entries of `file` under "<name>.params.", with that prefix removed: a
// state dict for the module of case `name`.
inline StateDict fixture_params(const std::string& file, const std::string& name) {
  StateDict out;
  const std::string prefix = name + ".params.";
  for (const auto& [key, t] : fixture_file(file))
    if (key.rfind(prefix, 0) == 0) out.set(key.substr(prefix.size()), t);
  return out;
}

// Every element of got within atol + rtol |want| of want (shapes equal). Prints the
// largest relative error |got - want| / |want| over the elements with |want| >= atol / rtol
// (below that, relative error means nothing and the absolute one is what counts) and
// the largest absolute error, so the numbers can be quoted. Returns the relative one.
inline double check_close(const std::string& what, const Tensor& got, const Tensor& want,
                          double rtol = 1e-5, double atol = 1e-6) {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(got.shape() == want.shape());
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double max_rel = 0, max_abs = 0;
  int64_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::abs(g[i] - w[i]);
    if (std::isnan(g[i]) != std::isnan(w[i]) || err > atol + rtol * std::abs(w[i])) ++bad;
    if (std::isnan(err)) continue;  // both NaN: equal, for our purposes
    max_abs = std::max(max_abs, err);
    if (std::abs(w[i]) >= atol / rtol) max_rel = std::max(max_rel, err / std::abs(w[i]));
  }
  MESSAGE(what << ": max rel err " << max_rel << ", max abs err " << max_abs << " (" << g.size()
               << " elements)");
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " elements outside atol " << atol << " + rtol " << rtol);
  return max_rel;
}

// Gradient check of a module's parameters, which gradcheck cannot reach (it only
// perturbs the tensors passed to its function). With a fixed random R the shape of
// forward()'s output, L = sum(forward() * R); backward gives dL/dp for every
// parameter p, and each element is compared with (L(p + eps) - L(p - eps)) / 2 eps.
// The module must already be float64 (Module::to(kFloat64)).
inline bool module_gradcheck(nn::Module& module, const std::function<Tensor()>& forward,
                             double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3) {
  Tensor out = forward();
  Tensor R = Tensor::randn(out.shape(), kFloat64);
  module.zero_grad();
  (out * R).sum().backward();
  for (auto& [name, p] : module.named_parameters()) {
    REQUIRE(p.dtype() == kFloat64);
    REQUIRE(p.is_contiguous());
    std::vector<double> analytic = p.grad().defined() ? p.grad().to_vector<double>()
                                                      : std::vector<double>(p.numel(), 0.0);
    NoGradGuard no_grad;
    double* data = p.data_ptr<double>();
    for (int64_t k = 0; k < p.numel(); ++k) {
      const double orig = data[k];
      data[k] = orig + eps;
      double plus = (forward() * R).sum().item();
      data[k] = orig - eps;
      double minus = (forward() * R).sum().item();
      data[k] = orig;
      double numeric = (plus - minus) / (2 * eps);
      if (!(std::abs(analytic[k] - numeric) <= atol + rtol * std::abs(numeric))) {
        MESSAGE("module_gradcheck: parameter " << name << " element " << k << ": backward gives "
                                               << analytic[k] << ", central differences " << numeric);
        return false;
      }
    }
  }
  return true;
}

}  // namespace heed::test
