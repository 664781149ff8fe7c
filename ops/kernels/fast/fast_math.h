// exp, expm1, sigmoid and tanh for float, in plain arithmetic that the compiler vectorizes.
//
// libm's expf is a function call per element, so a loop around it stays scalar
// code, one element at a time. The fast kernels that spend their time in
// exponentials use these instead: softmax (fast/softmax.cpp), the LSTM's
// sigmoid and tanh (fast/lstm.cpp) and GELU's tanh (fast/activation.cpp).
// float64 keeps libm everywhere: its kernels are for gradchecks, not speed.
//
// Both are computed the textbook way:
//   x = n ln2 + r,   n = round(x / ln2),   |r| <= ln2 / 2
//   e^x     = 2^n e^r
//   e^x - 1 = 2^n (e^r - 1) + (2^n - 1)
//   e^r - 1 = r + r^2/2! + ... + r^7/7!     (the next term is < 2e-8 of the sum)
// 2^n is built directly in a float's exponent bits. Measured against double
// precision, the largest relative error is a few float ulps (tests/kernels/
// test_fast_math.cpp sweeps both over their whole range). heed builds with
// -ffp-contract=off, so every compiled version of a kernel (target_clones) gives
// the same numbers; where a kernel's file is compiled with -ffp-contract=fast
// (GELU, the LSTM's gates: CMakeLists.txt) the copies for CPUs with FMA fuse the
// multiply-adds here, and the baseline copy can differ in the last bits.
#pragma once

#include <bit>
#include <cstdint>

namespace heed::kernels::fast {

// cond ? a : b, chosen with bit masks. A plain ?: on floats keeps GCC from
// vectorizing the loop (under the default -ftrapping-math); this is the same
// choice without a branch.
[[gnu::always_inline]] inline float pick(bool cond, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(cond);  // all ones or all zeros
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) | (std::bit_cast<uint32_t>(b) & ~mask));
}

namespace detail {

// x = n ln2 + r. n comes back as an integer (its low bits) and as a float.
struct Ln2Split {
  float r, n;
  int32_t n_int;
};
[[gnu::always_inline]] inline Ln2Split split_ln2(float x) {
  // n = round(x / ln2): adding 1.5 * 2^23 pushes the fraction bits out of the
  // float, so it rounds to an integer, which then sits in the low bits.
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float shifted = x * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  const int32_t n_int = static_cast<int32_t>(std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(shifter));
  // r = x - n ln2 with ln2 split in a head whose product with n is exact, and a
  // tail (Cody and Waite's trick): a plain n * ln2 would round away r's low bits.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  return {r, n, n_int};
}

// e^r - 1 for |r| <= ln2 / 2: the Taylor series to r^7, by Horner's rule.
[[gnu::always_inline]] inline float expm1_small(float r) {
  return r * (1 + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 +
              r * (1.0f / 5040)))))));
}

// 2^n for n in [-126, 127] (a normal float).
[[gnu::always_inline]] inline float two_to(int32_t n) {
  return std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
}

}  // namespace detail

// e^x. Below -104 the result rounds to 0 and above 89 to inf, as expf's does;
// NaN stays NaN. 2^n is applied in two halves, so that n may run from -150
// (results in float's subnormal range) to 128 without leaving the exponent bits.
//
// An x below -104 (-inf among them: a hidden score in attention) is computed
// as 0 and its result replaced by 0. Computed as itself it would pass through
// the subnormal range, and an Intel core finishes an instruction whose result
// is subnormal in microcode, about a hundred cycles, which made a softmax over
// rows ending in -inf several times slower (bench/RESULTS.md has the figures).
[[gnu::always_inline]] inline float exp_fast(float x) {
  const bool zero = x < -104.0f;  // NaN fails both tests and stays NaN
  x = pick(zero, 0.0f, x);
  x = pick(x > 89.0f, 89.0f, x);
  const detail::Ln2Split s = detail::split_ln2(x);
  const int32_t half = s.n_int >> 1;  // n = half + (n - half), each in [-75, 64]
  return pick(zero, 0.0f, (1 + detail::expm1_small(s.r)) * detail::two_to(half) * detail::two_to(s.n_int - half));
}

// e^x - 1, accurate near 0 where e^x - 1 would cancel (tanh needs that).
// Below -87 it is -1 and above 88 it stays at e^88 - 1: callers (sigmoid,
// tanh) saturate long before.
[[gnu::always_inline]] inline float expm1_fast(float x) {
  x = pick(x < -87.0f, -87.0f, x);  // keeps 2^n a normal float: n in [-126, 127]
  x = pick(x > 88.0f, 88.0f, x);
  const detail::Ln2Split s = detail::split_ln2(x);
  const float two_n = detail::two_to(s.n_int);
  return two_n * detail::expm1_small(s.r) + (two_n - 1);
}

// sigmoid and tanh, both from expm1 (expm1 rather than exp keeps tanh accurate
// near 0, where e^2u - 1 would cancel):
//   sigmoid(z) = 1 / (1 + e^-z)               = 1 / (2 + expm1(-z))
//   tanh(u)    = (e^2u - 1) / (e^2u + 1)      = expm1(2u) / (expm1(2u) + 2)
// Against double precision the largest relative error of either is a few float
// ulps (tests/kernels/test_lstm.cpp, test_activation.cpp).
[[gnu::always_inline]] inline float sigmoid_fast(float z) { return 1 / (2 + expm1_fast(-z)); }
[[gnu::always_inline]] inline float tanh_fast(float u) {
  const float e = expm1_fast(2 * u);
  return e / (e + 2);
}

}  // namespace heed::kernels::fast
