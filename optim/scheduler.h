// Learning-rate schedulers: they set the optimizer's lr as training goes on.
// Call step() once per epoch (or per batch, if that is your unit), after the
// optimizer's step(), as in PyTorch:
//
//   optim::SGD opt(model.parameters(), {.lr = 0.1});
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/100);
//   for (int epoch = 0; epoch < 100; ++epoch) { train_one_epoch(opt); sched.step(); }
//
// Each scheduler is a closed-form function lr(base_lr, epoch), applied to every
// parameter group with that group's own lr at construction as base_lr. (PyTorch's
// step() updates the lr recursively from its current value; the closed forms give
// the same sequence, to the last few bits, and cannot drift.) Constructing a
// scheduler already applies epoch 0's lr. The optimizer must outlive it.
#pragma once

#include <cstdint>
#include <vector>

#include "heed/optim/optimizer.h"

namespace heed::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Moves to the next epoch and sets every group's lr for it.
  void step();
  // The lr of each group as this scheduler last set it.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // The lr at `epoch` of a group that started at base_lr.
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;
  // Derived constructors call this last, to apply epoch 0 (from the base
  // constructor, a virtual call would not reach the derived lr_at yet).
  void start() { apply(); }

 private:
  void apply();

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size): decays by gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2: half a cosine
// from base_lr down to eta_min over T_max epochs (and back up after, as in PyTorch).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);

 protected:
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// Linear warmup: lr climbs in a straight line from start_factor * base_lr (about 0)
// at epoch 0 to base_lr at epoch warmup_steps, then stays there:
//   lr = base_lr (f + (1 - f) min(epoch, warmup_steps) / warmup_steps),  f = start_factor
// Starting a little above 0 keeps the first step from being wasted. This is
// PyTorch's LinearLR(opt, start_factor, end_factor=1.0, total_iters=warmup_steps).
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1e-3);

 protected:
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace heed::optim
