#include "heed/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace heed::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  last_lr_.clear();
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    last_lr_.push_back(lr_at(base_lrs_[g], last_epoch_));
    optimizer_.set_lr(g, last_lr_.back());
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

}  // namespace heed::optim
