// Element types. float32 is the default; float64 is for gradient checks and
// for users who want it; int64 holds indices (embedding ids, class targets) and
// never carries gradients.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

namespace heed {

enum class DType : uint8_t { Float32, Float64, Int64 };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;

constexpr size_t element_size(DType t) { return t == DType::Float32 ? 4 : 8; }
constexpr bool is_floating(DType t) { return t != DType::Int64; }

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

// The C++ type behind each dtype, and back.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }

// dispatch(dtype, fn) calls fn(T{}) with T the element type of dtype, so a kernel
// is written once as a template:  dispatch(x.dtype(), [&](auto t) { using T = decltype(t); ... });
template <class F>
decltype(auto) dispatch(DType t, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: break;
  }
  return fn(int64_t{});
}

// The same, for kernels that only make sense on real numbers (exp, tanh, ...).
// The caller has already checked is_floating(t) and thrown a DTypeError if not.
template <class F>
decltype(auto) dispatch_floating(DType t, F&& fn) {
  if (t == DType::Float64) return fn(double{});
  return fn(float{});
}

}  // namespace heed
