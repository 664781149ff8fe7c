#include "heed/ops/reduction.h"

namespace heed {

std::vector<int64_t> reduce_dims(const char* op, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(op, d, x.dim());
    if (std::find(out.begin(), out.end(), w) != out.end())
      throw ValueError(msg(op, ": dim ", w, " appears more than once in dims ", Shape(dims),
                           " (input shape ", x.shape(), "); list each dim once"));
    out.push_back(w);
  }
  if (x.dim() == 0) out.clear();
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> d(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) d[i] = i;
  return d;
}

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

ReduceView plan_reduction(const Tensor& x, const std::vector<int64_t>& dims, bool any_order) {
  Tensor xd = x.detach();
  const Shape& s = x.shape();
  const int64_t nd = x.dim();
  ReduceView p;
  for (int64_t d : dims) p.reduced *= s[d];

  // The reduced dims form one run [first, last] when there is no gap between them.
  bool one_run = dims.empty() || dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  if (xd.is_contiguous() && one_run) {
    const int64_t first = dims.empty() ? nd : dims.front();
    const int64_t last = dims.empty() ? nd : dims.back() + 1;
    for (int64_t d = 0; d < first; ++d) p.outer *= s[d];
    for (int64_t d = last; d < nd; ++d) p.inner *= s[d];
    p.data = xd;
    return p;
  }
  // Move the reduced dims to the end (kept dims first, in order), then make it
  // contiguous: a no-op when the permuted view happens to be contiguous already
  // (summing x.t() over its dim 0 is summing x over its dim 1).
  std::vector<int64_t> order;
  for (int64_t d = 0; d < nd; ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) {
      order.push_back(d);
      p.outer *= s[d];
    }
  std::vector<int64_t> reduced_order = dims;
  if (any_order)  // the largest stride first: the order in which memory holds them
    std::stable_sort(reduced_order.begin(), reduced_order.end(),
                     [&](int64_t a, int64_t b) { return x.strides()[a] > x.strides()[b]; });
  order.insert(order.end(), reduced_order.begin(), reduced_order.end());
  p.data = xd.permute(order).contiguous();
  return p;
}

}  // namespace heed
