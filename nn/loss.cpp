#include "heed/nn/loss.h"

namespace heed::nn {

BCEWithLogitsLoss::BCEWithLogitsLoss(Reduction reduction, Tensor pw) : reduction(reduction) {
  if (pw.defined()) pos_weight = register_buffer("pos_weight", pw);
}

}  // namespace heed::nn
