#include "heed/core/half.h"

#include <bit>

namespace heed {

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t fraction = bits & 0x3FFu;
  if (exponent == 0x1F) {  // inf or NaN: float32's all-ones exponent, the fraction (NaN payload) kept,
    const uint32_t quiet = fraction ? 0x00400000u : 0;  // and a NaN made quiet, as the CPU's own conversion does
    return std::bit_cast<float>(sign | 0x7F800000u | quiet | (fraction << 13));
  }
  if (exponent == 0) {  // zero or subnormal: fraction * 2^-24, exact in float32
    const float magnitude = static_cast<float>(fraction) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent (127 - 15 = 112), widen the fraction.
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (fraction << 13));
}

uint16_t float_to_half(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN -> a quiet NaN
  // 65520 = 65504 + half an ulp: from there up, rounding reaches infinity (the tie goes to even, inf).
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (magnitude < 0x38800000u) {
    // Below 2^-14, float16 is subnormal: a multiple of 2^-24. Adding 0.5, whose
    // ulp is 2^-24, makes the float unit round the value to that multiple (to
    // nearest even), and the multiple lands in the sum's low fraction bits.
    const float sum = std::bit_cast<float>(magnitude) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(sum) - 0x3F000000u));
  }
  // Normal: 13 fraction bits go. Adding 0xFFF plus the lowest kept bit rounds to
  // nearest even (a carry may bump the exponent, which is still right); then
  // rebias the exponent by (127 - 15) << 23 and shift into place.
  const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float bfloat16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t float_to_bfloat16(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;  // NaN -> the quiet NaN PyTorch writes
  // Keep the top 16 bits, rounding the low 16 to nearest even: add just under
  // half (0x7FFF) plus the lowest kept bit, so an exact tie rounds up only from odd.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace heed
