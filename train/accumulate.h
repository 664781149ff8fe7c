// Gradient accumulation: gradients summed over several micro-batches before
// each optimizer step, so a batch too large for memory trains as if whole.
//
//   GradientAccumulation accumulate(opt, /*micro_batches=*/4);
//   for (data::Batch& b : loader) {                  // batches a quarter of the size
//     Tensor loss = loss_of(b);                      // the mean over this micro-batch
//     if (accumulate.backward(loss)) sched.step();   // a whole batch is done
//   }
//
// backward(loss) runs (loss / micro_batches).backward(): backward adds into the
// gradients, so after micro_batches calls they hold the mean over the whole
// batch (for micro-batches of equal size), as one batch would give. Every
// micro_batches-th call then steps the optimizer and zeroes the gradients.
#pragma once

#include <cstdint>

#include "heed/core/tensor.h"
#include "heed/optim/optimizer.h"

namespace heed {

class GradientAccumulation {
 public:
  GradientAccumulation(optim::Optimizer& optimizer, int64_t micro_batches);
  // True when this call stepped the optimizer.
  bool backward(const Tensor& loss);
  int64_t pending() const { return pending_; }  // micro-batches since the last step

 private:
  optim::Optimizer& optimizer_;
  int64_t micro_batches_, pending_ = 0;
};

}  // namespace heed
