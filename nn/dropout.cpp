#include "heed/nn/dropout.h"

#include "heed/ops/dropout.h"

namespace heed::nn {

Dropout::Dropout(double p) : p(p) {
  // Checked here as well as in the op, so a bad p fails where the model is built,
  // not at the first training step.
  if (!(p >= 0 && p <= 1))  // written this way so NaN fails too
    throw ValueError(msg("Dropout: p is ", p, "; it must be a probability in [0, 1]"));
}

Tensor Dropout::forward(const Tensor& x) const { return report_output(dropout(x, p, is_training())); }

}  // namespace heed::nn
