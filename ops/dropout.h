// Dropout as a function with an explicit training flag (nn::Dropout passes the
// module's mode). In training each element is zeroed with probability p and the
// survivors are scaled by 1/(1-p), so the expected value is unchanged and
// evaluation needs no rescaling. dx = dy * mask / (1-p).
#pragma once

#include "heed/core/random.h"
#include "heed/core/tensor.h"

namespace heed {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// The mask dropout multiplies by: 1/(1-p) with probability 1-p, else 0, drawn
// from `gen` in row-major order (attention drops its weights with it).
Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator& gen = default_generator());

}  // namespace heed
