// Dropout as a function with an explicit training flag (nn::Dropout passes the
// module's mode). In training each element is zeroed with probability p and the
// survivors are scaled by 1/(1-p), so the expected value is unchanged and
// evaluation needs no rescaling. dx = dy * mask / (1-p).
#pragma once

#include "heed/core/tensor.h"

namespace heed {

Tensor dropout(const Tensor& x, double p, bool training);

}  // namespace heed
