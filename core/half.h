// 16-bit floats, as checkpoints store them: conversions to and from float32.
//
//   float32   1 sign | 8 exponent (bias 127) | 23 fraction
//   float16   1 sign | 5 exponent (bias 15)  | 10 fraction   IEEE half: range +-65504,
//                                                              subnormals down to 2^-24
//   bfloat16  1 sign | 8 exponent (bias 127) | 7 fraction    float32's top half: its
//                                                              range, 8 significant bits
//
// Widening (to float32) is exact. Narrowing rounds to nearest, ties to even,
// as PyTorch's .half() and .bfloat16() do; NaN stays NaN (quiet), and a float16
// overflows to infinity. heed computes in float32: these exist for files.
#pragma once

#include <cstdint>

namespace heed {

float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);

}  // namespace heed
