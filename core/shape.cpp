#include "heed/core/shape.h"

#include <algorithm>

#include "heed/core/error.h"

namespace heed {

std::ostream& operator<<(std::ostream& os, const DimVector& s) {
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t step = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = step;
    step *= std::max<int64_t>(s[i], 1);  // a zero size must not zero the outer strides
  }
  return st;
}

std::optional<Strides> view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape) {
  if (numel(shape) == 0 || shape.empty())  // no element to place (or one): any strides do
    return shape == new_shape ? strides : contiguous_strides(new_shape);
  Strides out(new_shape.size());
  // Walk the old dims from the innermost out, one run at a time; `nd` is the
  // innermost new dim not yet placed.
  int64_t nd = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t run_stride = strides.back();  // the step between neighbours of the current run
  int64_t run_size = 1;                 // its elements so far
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    run_size *= shape[d];
    const bool run_ends = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != run_size * run_stride);
    if (!run_ends) continue;
    // New dims take this run's elements, innermost first, each stepping over
    // the ones inside it; trailing sizes of 1 go with it too.
    int64_t placed = 1;
    while (nd >= 0 && (placed < run_size || new_shape[nd] == 1)) {
      out[nd] = placed * run_stride;
      placed *= new_shape[nd];
      --nd;
    }
    if (placed != run_size) return std::nullopt;  // a new dim straddles this run's edge
    if (d > 0) {
      run_stride = strides[d - 1];
      run_size = 1;
    }
  }
  if (nd != -1) return std::nullopt;
  return out;
}

int64_t wrap_dim(std::string_view op, int64_t dim, int64_t ndim) {
  int64_t n = std::max<int64_t>(ndim, 1);  // a scalar accepts dim 0 and -1
  if (dim < -n || dim >= n)
    throw IndexError(msg(op, ": dim ", dim, " is out of range for a tensor of ", ndim,
                         " dims; it must be in [", -n, ", ", n - 1, "]"));
  return dim < 0 ? dim + n : dim;
}

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    // Align from the right: a missing leading dim counts as 1.
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(msg(op, ": shapes ", a, " and ", b, " do not broadcast; dim ", i,
                           " of the result has sizes ", da, " and ", db,
                           ", which must be equal or one of them 1"));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// The messages below name the limits in words; this keeps them true.
static_assert(kMaxDims == 64 && kMaxElements == int64_t{1} << 50, "size_rule_violation's messages name 64 and 2^50");

const char* size_rule_violation(const Shape& s) {
  if (static_cast<int64_t>(s.size()) > kMaxDims) return "has more than 64 dims";
  // (Every new tensor passes through here, so the check multiplies, with an
  // overflow check, rather than divides: an integer division takes tens of cycles.)
  int64_t n = 1;
  bool too_many = false;
  for (int64_t d : s) {
    if (d < 0) return "has a negative size";
    // n stays <= 2^50 and d < 2^63, so n * d can overflow int64: check that too.
    if (d != 0) too_many = too_many || __builtin_mul_overflow(n, d, &n) || n > kMaxElements;
  }
  return too_many ? "has more than 2^50 elements (its nonzero sizes multiplied)" : nullptr;
}

void check_sizes(std::string_view op, const Shape& s) {
  if (const char* why = size_rule_violation(s)) throw ValueError(msg(op, ": shape ", s, " ", why));
}

}  // namespace heed
