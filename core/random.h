// Random numbers: one global generator, seeded with manual_seed, so that a run
// is reproducible (the same seed gives the same weights, the same dropout masks).
//
// The engine is std::mt19937_64, whose output sequence the C++ standard fixes; the
// uniform and normal transforms are written here (not std::*_distribution, whose
// algorithms differ between standard libraries) so a seed means the same numbers
// on every platform.
#pragma once

#include <cstdint>
#include <random>

namespace heed {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { seed_(seed); }
  void seed_(uint64_t seed) {
    engine_.seed(seed);
    has_spare_normal_ = false;
  }
  uint64_t next_u64() { return engine_(); }
  double uniform();                             // [0, 1), 53 random bits
  double normal();                              // N(0, 1), Box-Muller
  int64_t randint(int64_t low, int64_t high);   // [low, high), unbiased

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0;
};

// The generator behind rand, randn, randint, dropout and the nn initializers.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace heed
