// Adam and AdamW, as PyTorch 1.13's torch.optim.Adam / AdamW compute them.
//
// Per parameter p with gradient g, at step t (counted per parameter from 1):
//   Adam:  g = g + weight_decay * p            (L2 penalty, folded into the gradient)
//   AdamW: p = p * (1 - lr * weight_decay)     (decoupled decay, applied to p first)
//   m = beta1 m + (1 - beta1) g                first moment (exp_avg)
//   v = beta2 v + (1 - beta2) g^2              second moment (exp_avg_sq)
//   v_max = max(v_max, v)                      amsgrad only: use the largest v seen
//   denom = sqrt(v or v_max) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
// The two bias corrections undo the pull of m and v toward their zero start.
#pragma once

#include <utility>

#include "heed/optim/optimizer.h"

namespace heed::optim {

// Adam's and AdamW's options: the same fields, and only weight_decay's default
// differs (PyTorch's Adam uses 0, its AdamW 1e-2), so one template makes both.
// The default comes from a tag type rather than a `double` template argument,
// which clang 14 does not support yet.
struct AdamDefaults {
  static constexpr double weight_decay = 0.0;
};
struct AdamWDefaults {
  static constexpr double weight_decay = 1e-2;
};

template <class Defaults>
struct AdamOptionsWith {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = Defaults::weight_decay;
  bool amsgrad = false;

  template <class V>
  void visit(V&& v) {
    v("lr", lr);
    v("betas", betas);
    v("eps", eps);
    v("weight_decay", weight_decay);
    v("amsgrad", amsgrad);
  }
  static void check(const char* name, const AdamOptionsWith& o);
};
using AdamOptions = AdamOptionsWith<AdamDefaults>;
using AdamWOptions = AdamOptionsWith<AdamWDefaults>;

struct AdamState {
  int64_t step = 0;       // updates this parameter has had
  Tensor exp_avg;         // m, like the parameter
  Tensor exp_avg_sq;      // v
  Tensor max_exp_avg_sq;  // v_max (amsgrad only)

  bool initialized() const { return step > 0; }
  template <class V, class Options>
  void visit(V&& v, const Options& o) {
    v("step", step);
    v("exp_avg", exp_avg);
    v("exp_avg_sq", exp_avg_sq);
    if (o.amsgrad) v("max_exp_avg_sq", max_exp_avg_sq);
  }
};

class Adam : public OptimizerBase<AdamOptions, AdamState> {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {})
      : Adam(std::vector<Group>{{std::move(params), options}}) {}
  explicit Adam(std::vector<Group> groups) : OptimizerBase("Adam", std::move(groups)) {}
  void step() override;
};

class AdamW : public OptimizerBase<AdamWOptions, AdamState> {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {})
      : AdamW(std::vector<Group>{{std::move(params), options}}) {}
  explicit AdamW(std::vector<Group> groups) : OptimizerBase("AdamW", std::move(groups)) {}
  void step() override;
};

}  // namespace heed::optim
