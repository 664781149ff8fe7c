#include "heed/optim/plateau.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace heed::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options)
    : optimizer_(optimizer), options_(options), minimize_(std::strcmp(options.mode, "min") == 0),
      relative_(std::strcmp(options.threshold_mode, "rel") == 0) {
  const PlateauOptions& o = options_;
  if (!minimize_ && std::strcmp(o.mode, "max") != 0)
    throw ValueError(msg("ReduceLROnPlateau: mode is '", o.mode, "'; it must be 'min' or 'max'"));
  if (!relative_ && std::strcmp(o.threshold_mode, "abs") != 0)
    throw ValueError(msg("ReduceLROnPlateau: threshold_mode is '", o.threshold_mode, "'; it must be 'rel' or 'abs'"));
  if (!(o.factor > 0 && o.factor < 1))
    throw ValueError(msg("ReduceLROnPlateau: factor is ", o.factor, "; it must be in (0, 1) to reduce the lr"));
  if (o.patience < 0 || o.cooldown < 0 || !(o.threshold >= 0) || !(o.min_lr >= 0))
    throw ValueError(msg("ReduceLROnPlateau: patience ", o.patience, ", cooldown ", o.cooldown, ", threshold ", o.threshold,
                         ", min_lr ", o.min_lr, "; none may be negative"));
  best_ = minimize_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const double t = options_.threshold;
  if (minimize_) return relative_ ? metric < best_ * (1 - t) : metric < best_ - t;
  return relative_ ? metric > best_ * (1 + t) : metric > best_ + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;  // NaN lands here: it is never better
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience) {
    for (size_t g = 0; g < optimizer_.num_groups(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(g, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict out;
  out.set("last_epoch", Tensor::scalar(static_cast<double>(last_epoch_), kInt64));
  out.set("best", Tensor::scalar(best_, kFloat64));
  out.set("num_bad_epochs", Tensor::scalar(static_cast<double>(num_bad_epochs_), kInt64));
  out.set("cooldown_counter", Tensor::scalar(static_cast<double>(cooldown_counter_), kInt64));
  return out;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
  auto get = [&](const char* key, DType dtype) {
    if (!state.contains(key)) throw ValueError(msg("ReduceLROnPlateau.load_state_dict: the key '", key, "' is missing"));
    const Tensor& t = state.at(key);
    if (t.numel() != 1 || t.dtype() != dtype)
      throw ValueError(msg("ReduceLROnPlateau.load_state_dict: '", key, "' must be one ", dtype, ", got ", t.dtype(), " ",
                           t.shape()));
    return t;
  };
  if (state.size() != 4) throw ValueError(msg("ReduceLROnPlateau.load_state_dict: expected 4 keys, got ", state.size()));
  const int64_t epoch = get("last_epoch", kInt64).item<int64_t>();
  const double best = get("best", kFloat64).item();
  const int64_t bad = get("num_bad_epochs", kInt64).item<int64_t>();
  const int64_t cooldown = get("cooldown_counter", kInt64).item<int64_t>();
  last_epoch_ = epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
}

}  // namespace heed::optim
