#include "heed/core/random.h"

#include <cmath>
#include <numbers>

namespace heed {

double Generator::uniform() {
  // The top 53 bits fill a double's mantissa exactly: every value k / 2^53 is
  // equally likely and 1.0 is never returned.
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Generator::normal() {
  // Box-Muller turns two uniforms into two independent normals; keep the second.
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u1 = 1.0 - uniform();  // (0, 1]: log(0) would be -inf
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * std::numbers::pi * u2;
  spare_normal_ = r * std::sin(theta);
  has_spare_normal_ = true;
  return r * std::cos(theta);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  // Rejection sampling: a plain modulo would favour small values whenever the
  // range does not divide 2^64.
  uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);  // no signed overflow
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  // low + offset in uint64, where wrapping is defined: with low = INT64_MIN the
  // offset can exceed INT64_MAX, and int64 arithmetic would overflow.
  return static_cast<int64_t>(static_cast<uint64_t>(low) + x % range);
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().seed_(seed); }

}  // namespace heed
