#include "heed/core/random.h"

#include <bit>
#include <cmath>
#include <numbers>
#include <sstream>

#include "heed/core/error.h"

namespace heed {

double RandomStream::uniform() {
  // The top 53 bits fill a double's mantissa exactly: every value k / 2^53 is
  // equally likely and 1.0 is never returned.
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double RandomStream::normal() {
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

int64_t RandomStream::randint(int64_t low, int64_t high) {
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

// "<engine words> <0 or 1> <spare normal's bits>": the spare as its 64 bits, so
// the round trip is exact without relying on decimal formatting.
std::string RandomStream::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << has_spare_normal_ << ' ' << std::bit_cast<uint64_t>(spare_normal_);
  return out.str();
}

void RandomStream::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  int has_spare = -1;
  uint64_t spare_bits = 0;
  in >> engine >> has_spare >> spare_bits;
  // All three read, nothing after them, and a flag that is 0 or 1.
  if (in.fail() || !(in >> std::ws).eof() || (has_spare != 0 && has_spare != 1))
    throw ValueError(msg("Generator::set_state: the text (", state.size(),
                         " characters) is not a state that get_state wrote"));
  engine_ = engine;
  has_spare_normal_ = has_spare == 1;
  spare_normal_ = std::bit_cast<double>(spare_bits);
}

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard lock(mutex_);
  stream_.seed_(seed);
  initial_seed_ = seed;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard lock(mutex_);
  return initial_seed_;
}

std::string Generator::get_state() const {
  std::lock_guard lock(mutex_);
  return stream_.state();
}

void Generator::set_state(const std::string& state) {
  std::lock_guard lock(mutex_);
  stream_.set_state(state);
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }
std::string get_rng_state() { return default_generator().get_state(); }
void set_rng_state(const std::string& state) { default_generator().set_state(state); }

}  // namespace heed
