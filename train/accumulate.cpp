#include "heed/train/accumulate.h"

#include "heed/core/error.h"
#include "heed/ops/ops.h"

namespace heed {

GradientAccumulation::GradientAccumulation(optim::Optimizer& optimizer, int64_t micro_batches)
    : optimizer_(optimizer), micro_batches_(micro_batches) {
  if (micro_batches < 1)
    throw ValueError(msg("GradientAccumulation: micro_batches is ", micro_batches, "; it must be >= 1"));
}

bool GradientAccumulation::backward(const Tensor& loss) {
  if (!loss.defined() || loss.numel() != 1)
    throw ShapeError(msg("GradientAccumulation::backward: the loss must be one number, got ",
                         loss.defined() ? loss.shape() : Shape{}, loss.defined() ? "" : " (undefined)"));
  (micro_batches_ == 1 ? loss : loss / static_cast<double>(micro_batches_)).backward();
  if (++pending_ < micro_batches_) return false;
  optimizer_.step();
  optimizer_.zero_grad();
  pending_ = 0;
  return true;
}

}  // namespace heed
