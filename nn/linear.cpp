#include "heed/nn/linear.h"

#include "heed/nn/init.h"
#include "heed/ops/ops.h"

namespace heed::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  if (in < 0 || out < 0)
    throw ValueError(msg("Linear: in_features (", in, ") and out_features (", out, ") must be >= 0"));
  weight = register_parameter("weight", init::fan_in_uniform({out, in}, in));
  if (with_bias) bias = register_parameter("bias", init::fan_in_uniform({out}, in));
}

Tensor Linear::forward(const Tensor& x) const {
  if (x.dim() == 0 || x.size(-1) != in_features)
    throw ShapeError(msg("Linear: input has shape ", x.shape(), "; its last dim must be in_features (",
                         in_features, ")"));
  // One op, one graph node (ops/linalg.h: linear); bias may be undefined.
  return report_output(linear(x, weight, bias));
}

}  // namespace heed::nn
