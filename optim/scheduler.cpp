#include "heed/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

namespace heed::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  // The first scheduler on an optimizer fixes where every later one counts from
  // (PyTorch's setdefault of initial_lr); a loaded checkpoint may have fixed it already.
  if (optimizer.initial_lrs().empty()) {
    std::vector<double> lrs;
    for (size_t g = 0; g < optimizer.num_groups(); ++g) lrs.push_back(optimizer.lr(g));
    optimizer.set_initial_lrs(lrs);
  }
  base_lrs_ = optimizer.initial_lrs();
}

void LRScheduler::set_base_lrs(std::vector<double> lrs) {
  optimizer_.set_initial_lrs(lrs);
  base_lrs_ = std::move(lrs);
}

void LRScheduler::step() { set_last_epoch(last_epoch_ + 1); }

void LRScheduler::set_last_epoch(int64_t epoch) {
  if (epoch < 0) throw ValueError(msg("LRScheduler: epoch ", epoch, " is negative"));
  const int64_t was = last_epoch_;
  last_epoch_ = epoch;
  try {
    apply();
  } catch (...) {  // a formula that refuses the epoch (OneCycleLR past its end) changes nothing
    last_epoch_ = was;
    throw;
  }
}

void LRScheduler::apply() {
  // Everything is computed before anything is set, so a refused epoch changes nothing.
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(lr_at(base, last_epoch_));
  const std::optional<double> momentum = momentum_at(last_epoch_);
  for (size_t g = 0; g < lrs.size(); ++g) {
    optimizer_.set_lr(g, lrs[g]);
    if (momentum) optimizer_.set_momentum(g, *momentum);
  }
  last_lr_ = std::move(lrs);
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  out.set("last_epoch", Tensor::scalar(static_cast<double>(last_epoch_), kInt64));
  out.set("base_lrs", Tensor::from_vector(base_lrs_, {static_cast<int64_t>(base_lrs_.size())}));
  return out;
}

void LRScheduler::load_state_dict(const StateDict& state) {
  for (const char* key : {"last_epoch", "base_lrs"})
    if (!state.contains(key)) throw ValueError(msg("LRScheduler.load_state_dict: the key '", key, "' is missing"));
  for (const auto& [key, t] : state)
    if (key != "last_epoch" && key != "base_lrs")
      throw ValueError(msg("LRScheduler.load_state_dict: unexpected key '", key, "'"));
  const Tensor& epoch = state.at("last_epoch");
  const Tensor& bases = state.at("base_lrs");
  if (epoch.dtype() != kInt64 || epoch.numel() != 1)
    throw ValueError(msg("LRScheduler.load_state_dict: 'last_epoch' must be one int64, got ", epoch.dtype(), " ",
                         epoch.shape()));
  if (bases.dim() != 1 || bases.numel() != static_cast<int64_t>(base_lrs_.size()))
    throw ValueError(msg("LRScheduler.load_state_dict: 'base_lrs' is ", bases.shape(), "; this optimizer has ",
                         base_lrs_.size(), " groups"));
  const std::vector<double> was = base_lrs_;
  base_lrs_ = bases.to_vector<double>();
  try {
    set_last_epoch(epoch.item<int64_t>());
  } catch (...) {
    base_lrs_ = was;
    throw;
  }
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) throw ValueError(msg("StepLR: step_size is ", step_size, "; it must be >= 1"));
  start();
}

double StepLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  if (T_max < 1) throw ValueError(msg("CosineAnnealingLR: T_max is ", T_max, "; it must be >= 1"));
  start();
}

double CosineAnnealingLR::lr_at(double base_lr, int64_t epoch) const {
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(angle)) / 2;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor)
    : LRScheduler(optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  if (warmup_steps < 1)
    throw ValueError(msg("LinearWarmup: warmup_steps is ", warmup_steps, "; it must be >= 1"));
  // 0 would waste the first step (lr 0); above 1 it would be a cool-down, not a warmup.
  if (!(start_factor > 0 && start_factor <= 1))
    throw ValueError(msg("LinearWarmup: start_factor is ", start_factor, "; it must be in (0, 1]"));
  start();
}

double LinearWarmup::lr_at(double base_lr, int64_t epoch) const {
  const double done = static_cast<double>(std::min(epoch, warmup_steps_));
  return base_lr * (start_factor_ + (1 - start_factor_) * done / static_cast<double>(warmup_steps_));
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> factor)
    : LRScheduler(optimizer), factor_(std::move(factor)) {
  if (!factor_) throw ValueError("LambdaLR: the factor function is empty");
  start();
}

double LambdaLR::lr_at(double base_lr, int64_t epoch) const { return base_lr * factor_(epoch); }

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  if (schedulers_.empty() || milestones_.size() + 1 != schedulers_.size())
    throw ValueError(msg("SequentialLR: ", schedulers_.size(), " schedulers and ", milestones_.size(),
                         " milestones; it needs one milestone between each two schedulers"));
  for (size_t i = 0; i < schedulers_.size(); ++i)
    if (!schedulers_[i] || schedulers_[i]->base_lrs() != base_lrs())
      throw ValueError(msg("SequentialLR: scheduler ", i, " is empty or built on another optimizer (its base lrs differ)"));
  for (size_t i = 0; i < milestones_.size(); ++i)
    if (milestones_[i] < 1 || (i > 0 && milestones_[i] <= milestones_[i - 1]))
      throw ValueError(msg("SequentialLR: milestone ", i, " is ", milestones_[i], "; milestones must rise from 1 up"));
  start();  // the children applied their own epoch 0 when built; the first one's is the one that holds
}

std::pair<const LRScheduler*, int64_t> SequentialLR::active(int64_t epoch) const {
  // The last milestone at or before epoch picks the scheduler, and where it started.
  const auto i = static_cast<size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin());
  return {schedulers_[i].get(), i == 0 ? 0 : milestones_[i - 1]};
}

double SequentialLR::lr_at(double base_lr, int64_t epoch) const {
  const auto [scheduler, started] = active(epoch);
  return scheduler->lr_at(base_lr, epoch - started);
}

std::optional<double> SequentialLR::momentum_at(int64_t epoch) const {
  const auto [scheduler, started] = active(epoch);
  return scheduler->momentum_at(epoch - started);
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, OneCycleOptions options)
    : LRScheduler(optimizer), max_lr_(max_lr), total_steps_(total_steps), options_(options),
      cosine_(std::strcmp(options.anneal_strategy, "cos") == 0) {
  if (!(max_lr > 0) || total_steps < 1)
    throw ValueError(msg("OneCycleLR: max_lr ", max_lr, ", total_steps ", total_steps, "; both must be positive"));
  if (!(options.pct_start > 0 && options.pct_start < 1) || !(options.div_factor > 0) || !(options.final_div_factor > 0))
    throw ValueError(msg("OneCycleLR: pct_start ", options.pct_start, ", div_factor ", options.div_factor,
                         ", final_div_factor ", options.final_div_factor, "; need 0 < pct_start < 1 and positive factors"));
  if (options.pct_start * static_cast<double>(total_steps) <= 1)
    throw ValueError(msg("OneCycleLR: pct_start * total_steps is ", options.pct_start * static_cast<double>(total_steps),
                         "; the warm-up phase needs more than one step"));
  if (!cosine_ && std::strcmp(options.anneal_strategy, "linear") != 0)
    throw ValueError(msg("OneCycleLR: anneal_strategy is '", options.anneal_strategy, "'; it must be 'cos' or 'linear'"));
  if (options.cycle_momentum) {
    if (!optimizer.has_momentum())
      throw ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas; "
                       "pass .cycle_momentum = false");
    // A momentum of 1 or more never forgets a gradient: the running average diverges.
    for (double m : {options.base_momentum, options.max_momentum})
      if (!(m >= 0 && m < 1))
        throw ValueError(msg("OneCycleLR: base_momentum ", options.base_momentum, ", max_momentum ",
                             options.max_momentum, "; both must be in [0, 1)"));
  }
  set_base_lrs(std::vector<double>(optimizer.num_groups(), max_lr / options.div_factor));
  start();
}

std::pair<bool, double> OneCycleLR::phase(int64_t epoch) const {
  if (epoch > total_steps_)
    throw ValueError(msg("OneCycleLR: stepped to ", epoch, " past total_steps (", total_steps_, ")"));
  // Two phases, as PyTorch numbers them: up until step pct_start * total - 1, then down until step total - 1.
  const double up_end = options_.pct_start * static_cast<double>(total_steps_) - 1;
  const double down_end = static_cast<double>(total_steps_) - 1;
  const auto step = static_cast<double>(epoch);
  if (step <= up_end) return {true, step / up_end};
  return {false, (step - up_end) / (down_end - up_end)};
}

double OneCycleLR::anneal(double from, double to, double pct) const {
  return cosine_ ? to + (from - to) / 2 * (std::cos(std::numbers::pi * pct) + 1) : (to - from) * pct + from;
}

double OneCycleLR::lr_at(double base_lr, int64_t epoch) const {
  const auto [rising, pct] = phase(epoch);
  const double min_lr = base_lr / options_.final_div_factor;
  return rising ? anneal(base_lr, max_lr_, pct) : anneal(max_lr_, min_lr, pct);
}

std::optional<double> OneCycleLR::momentum_at(int64_t epoch) const {
  if (!options_.cycle_momentum) return std::nullopt;
  const auto [rising, pct] = phase(epoch);
  const double low = options_.base_momentum, high = options_.max_momentum;
  return rising ? anneal(high, low, pct) : anneal(low, high, pct);
}

}  // namespace heed::optim
