// Shapes, strides, and the rules that relate them: element counts, contiguous
// strides, negative dims, and broadcasting.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

#include "heed/core/dim_vector.h"

namespace heed {

// A shape is a list of sizes, outermost first: [B, T, C]. It is a DimVector (a
// vector that keeps up to six sizes inline, see core/dim_vector.h) with a name of
// its own so that `os << shape` prints "[2, 3]" wherever it is used.
struct Shape : DimVector {
  using DimVector::DimVector;
  Shape() = default;
  Shape(const DimVector& v) : DimVector(v) {}
};
using Strides = DimVector;

std::ostream& operator<<(std::ostream& os, const DimVector& s);

// Product of the sizes; 1 for a 0-d (scalar) shape.
int64_t numel(const Shape& s);

// Row-major strides: the last dim moves fastest. [2, 3, 4] -> [12, 4, 1].
Strides contiguous_strides(const Shape& s);

// The strides that let memory laid out as (shape, strides) be read as
// new_shape without moving an element, or nothing when no strides can (the
// rule of PyTorch's view). Why it works: split the old dims into runs that are
// contiguous among themselves (stride[d] == stride[d + 1] * size[d + 1]); each
// run is one block of evenly spaced elements, and a view may regroup the dims
// inside a run freely. So each run must be covered exactly by consecutive new
// dims whose sizes multiply to the run's size; a new dim that straddles two runs
// would need two step sizes at once. Sizes of 1 fit anywhere. new_shape must
// have shape's element count; an empty tensor can be viewed as any shape.
std::optional<Strides> view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape);

// Turns a possibly negative dim (-1 is the last) into 0..ndim-1, or throws an
// IndexError that names `op`. With ndim == 0 the valid dims are -1 and 0, as in PyTorch.
int64_t wrap_dim(std::string_view op, int64_t dim, int64_t ndim);

// The shape two operands broadcast to (NumPy rules: align the trailing dims;
// each pair must be equal or one of them 1). Throws a ShapeError naming `op`.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

// The one rule every new tensor's shape obeys, whether a factory, an op or a
// checkpoint file asks for it:
//   - at most kMaxDims dims;
//   - every size >= 0;
//   - the product of the nonzero sizes at most kMaxElements (2^50).
// The last keeps element counts, byte counts and every stride far from int64's
// limit. It counts only the nonzero sizes because an empty tensor has strides
// too: [0, 2^62, 2^62] holds no element, but its first stride would be 2^124.
inline constexpr int64_t kMaxDims = 64;
inline constexpr int64_t kMaxElements = int64_t{1} << 50;

// Which part of the rule `s` breaks ("has a negative size", ...), or nullptr.
const char* size_rule_violation(const Shape& s);

// Throws a ValueError "op: shape [..] <what it breaks>" when `s` breaks the rule.
void check_sizes(std::string_view op, const Shape& s);

}  // namespace heed
