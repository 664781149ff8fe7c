// Learning-rate schedulers: they set the optimizer's lr as training goes on.
// Call step() once per epoch (or per batch, if that is your unit), after the
// optimizer's step(), as in PyTorch:
//
//   optim::SGD opt(model.parameters(), {.lr = 0.1});
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/100);
//   for (int epoch = 0; epoch < 100; ++epoch) { train_one_epoch(opt); sched.step(); }
//
// Each scheduler is a closed-form function lr_at(base_lr, epoch), applied to
// every parameter group with that group's initial lr as base_lr (the lr it had
// when the first scheduler was built on the optimizer: Optimizer::initial_lrs()).
// PyTorch's step() updates the lr recursively from its current value; the closed
// forms give the same sequence, to the last few bits, and cannot drift. And they
// make a scheduler's whole state one number, the epoch: set_last_epoch() jumps
// to any epoch, and state_dict() / load_state_dict() resume exactly.
// Constructing a scheduler applies epoch 0's lr. The optimizer must outlive it.
//
// Chaining: SequentialLR runs one scheduler after another (warmup, then cosine).
// ReduceLROnPlateau, which reacts to a metric instead of following a formula,
// is in optim/plateau.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "heed/nn/state_dict.h"
#include "heed/optim/optimizer.h"

namespace heed::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Moves to the next epoch and sets every group's lr for it.
  void step();
  // Jumps to `epoch` and sets every group's lr for it.
  void set_last_epoch(int64_t epoch);
  // The lr of each group as this scheduler last set it.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  // The lr at `epoch` of a group that started at base_lr: the scheduler's formula.
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;
  // The momentum at `epoch`, for a scheduler that sets it too (OneCycleLR);
  // empty for those that leave it alone.
  virtual std::optional<double> momentum_at(int64_t /*epoch*/) const { return std::nullopt; }

  // {"last_epoch": int64 [], "base_lrs": float64 [groups]}. Loading sets the
  // optimizer's lrs for that epoch at once.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Derived constructors call this last, to apply epoch 0 (from the base
  // constructor, a virtual call would not reach the derived lr_at yet).
  void start() { apply(); }
  // For schedulers that fix their own starting lr (OneCycleLR): sets the
  // optimizer's initial lrs too, as PyTorch does.
  void set_base_lrs(std::vector<double> lrs);

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
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

// lr = base_lr * factor(epoch), any factor you write (PyTorch's LambdaLR):
//   optim::LambdaLR sched(opt, [](int64_t e) { return std::pow(0.95, e); });
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t epoch)> factor);
  double lr_at(double base_lr, int64_t epoch) const override;

 private:
  std::function<double(int64_t)> factor_;
};

// Schedulers one after another: schedulers[i] runs from milestones[i - 1] on,
// counting its own epochs from 0 there. Warmup for 100 steps, then a cosine:
//   auto warmup = std::make_shared<optim::LinearWarmup>(opt, 100);
//   auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 900);
//   optim::SequentialLR sched(opt, {warmup, cosine}, {100});
// Every scheduler must be built on `optimizer`; step only this one.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  double lr_at(double base_lr, int64_t epoch) const override;
  std::optional<double> momentum_at(int64_t epoch) const override;

 private:
  // The scheduler that runs at `epoch`, and the epoch it started at.
  std::pair<const LRScheduler*, int64_t> active(int64_t epoch) const;

  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

// The 1cycle policy (Smith and Topin, 2017; PyTorch's OneCycleLR): from
// max_lr / div_factor up to max_lr over the first pct_start of total_steps, then
// down to max_lr / (div_factor * final_div_factor) at the last step, along half
// cosines (or straight lines: anneal "linear"). The optimizer's own lr is not used.
//
// Momentum moves the other way (cycle_momentum, on by default as in PyTorch):
// from max_momentum down to base_momentum while the lr climbs, and back up while
// it falls. A large step along a direction the running average has not settled
// on is what makes the high-lr phase unstable; less momentum there damps it
// (Smith, 2018). "Momentum" is SGD's momentum or Adam's beta1 (the decay of its
// first moment). An SGD built without momentum gets it from the scheduler, as in
// PyTorch: the first step with momentum starts its buffer.
// Stepping past total_steps is an error.
struct OneCycleOptions {
  double pct_start = 0.3;
  const char* anneal_strategy = "cos";  // or "linear"
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
};
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, OneCycleOptions options = {});
  double lr_at(double base_lr, int64_t epoch) const override;
  std::optional<double> momentum_at(int64_t epoch) const override;

 private:
  // Where `epoch` is in the cycle: rising (first phase) or not, and how far
  // along its phase, from 0 to 1.
  std::pair<bool, double> phase(int64_t epoch) const;
  double anneal(double from, double to, double pct) const;

  double max_lr_;
  int64_t total_steps_;
  OneCycleOptions options_;
  bool cosine_;
};

}  // namespace heed::optim
