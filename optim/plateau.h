// ReduceLROnPlateau: cut the lr when a metric stops improving (PyTorch's, with
// its defaults). Not a formula of the epoch like the schedulers in scheduler.h:
// it watches the numbers you pass to step(metric), typically the validation loss.
//
//   optim::ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 3});
//   for (...) { train_one_epoch(); sched.step(validation_loss()); }
//
// After each step: if the metric beat the best so far (by `threshold`), it is
// the new best; otherwise one more bad epoch. More than `patience` bad epochs in
// a row multiply every group's lr by `factor` (never below min_lr), then
// `cooldown` epochs pass without counting bad ones.
#pragma once

#include <cstdint>

#include "heed/nn/state_dict.h"
#include "heed/optim/optimizer.h"

namespace heed::optim {

struct PlateauOptions {
  const char* mode = "min";            // "min": lower is better (a loss); "max": higher (an accuracy)
  double factor = 0.1;                 // new lr = lr * factor
  int64_t patience = 10;               // bad epochs tolerated before cutting
  double threshold = 1e-4;             // how much better counts as better
  const char* threshold_mode = "rel";  // "rel": by a fraction of best; "abs": by an amount
  int64_t cooldown = 0;                // epochs after a cut before bad epochs count again
  double min_lr = 0;
  double eps = 1e-8;                   // cuts smaller than this are skipped
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  void step(double metric);
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t last_epoch() const { return last_epoch_; }

  // {"last_epoch", "best", "num_bad_epochs", "cooldown_counter"}; the lrs
  // themselves live in the optimizer's state dict.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  bool is_better(double metric) const;

  Optimizer& optimizer_;
  PlateauOptions options_;
  bool minimize_, relative_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace heed::optim
