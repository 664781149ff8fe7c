// Dropout (Srivastava et al. 2014), "inverted" as in PyTorch: the survivors are
// scaled up during training, so evaluation is the identity.
#include "heed/ops/dropout.h"

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/map.h"

namespace heed {

// The mask is drawn serially, in row-major order of the shape, under the
// generator's lock: the same seed gives the same mask on every run and thread count.
// A kept element is scaled by 1/(1-p); a dropped one is exactly 0 (not x * 0, which
// is NaN for x = inf). With p == 1 nothing is kept, so 1/(1-p) = inf is never used.
Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator& gen) {
  profiler::OpScope prof("dropout_mask");
  Tensor mask = make_tensor(shape, dtype, /*zero_fill=*/false);
  dispatch_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data_ptr<T>();
    const T scale = p < 1 ? static_cast<T>(1 / (1 - p)) : T(0);
    gen.locked([&](RandomStream& s) {
      for (int64_t i = 0; i < mask.numel(); ++i) m[i] = s.uniform() >= p ? scale : T(0);
    });
  });
  return mask;
}

// y = x * m,  m_i = 1/(1-p) with probability 1-p, else 0   (so E[y] = x)
// dx = dy * m
// saves: m (the mask with the scale folded in), not x
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  profiler::OpScope prof("dropout");
  if (!(p >= 0 && p <= 1))  // written this way so NaN fails too
    throw ValueError(msg("dropout: p is ", p, "; it must be a probability in [0, 1]"));
  check_floating("dropout", x);
  if (!training || p == 0) return x;

  const Tensor mask = dropout_mask(x.shape(), x.dtype(), p, gen);
  Tensor y = binary_map("dropout", x, mask, [](auto v, auto m) { return m == 0 ? decltype(v)(0) : v * m; });
  if (!needs_grad({x})) return y;
  SavedTensor sm(mask);
  return record("dropout", y, {x}, [sm](const Tensor& dy) -> TensorList {
    return {binary_map("dropout_backward", dy, sm.get("dropout"),
                       [](auto g, auto m) { return m == 0 ? decltype(g)(0) : g * m; })};
  });
}

}  // namespace heed
