// Random numbers, reproducible and safe to share between threads.
//
// A RandomStream is the sequence itself: std::mt19937_64, whose output the C++
// standard fixes, and uniform, normal and integer transforms written here (not
// std::*_distribution, whose algorithms differ between standard libraries), so a
// seed means the same numbers on every platform. It is plain data: not safe to
// use from two threads at once.
//
// A Generator is a stream behind a mutex, as in PyTorch. Factories (rand, randn,
// randint, randperm), dropout and the nn initializers take one, defaulting to
// default_generator(); each holds the lock while it fills its tensor, so one
// tensor's numbers are one unbroken stretch of the sequence even while other
// threads draw from the same generator. Which thread draws first is still up to
// the scheduler: for numbers that do not depend on timing, give each thread its
// own Generator.
//
//   Generator g(7);
//   Tensor a = Tensor::randn({2, 3}, kFloat32, g);   // the default generator is untouched
//   std::string s = g.get_state();  ...  g.set_state(s);   // replay from here
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace heed {

class RandomStream {
 public:
  explicit RandomStream(uint64_t seed = 0) { seed_(seed); }
  void seed_(uint64_t seed) {
    engine_.seed(seed);
    has_spare_normal_ = false;
  }
  uint64_t next_u64() { return engine_(); }
  double uniform();                             // [0, 1), 53 random bits
  double normal();                              // N(0, 1), Box-Muller
  int64_t randint(int64_t low, int64_t high);   // [low, high), unbiased

  // The whole state as text: the engine's words (the standard fixes their
  // format) and Box-Muller's spare normal, written exactly.
  std::string state() const;
  void set_state(const std::string& state);  // ValueError if `state` is not one

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : stream_(seed), initial_seed_(seed) {}
  Generator(const Generator&) = delete;  // a copy would silently repeat the numbers
  Generator& operator=(const Generator&) = delete;

  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const;
  std::string get_state() const;
  void set_state(const std::string& state);

  // Runs fn(stream) holding the lock: many draws, one unbroken stretch.
  template <class F>
  decltype(auto) locked(F&& fn) {
    std::lock_guard lock(mutex_);
    return fn(stream_);
  }
  // Single draws, each under the lock.
  double uniform() { return locked([](RandomStream& s) { return s.uniform(); }); }
  double normal() { return locked([](RandomStream& s) { return s.normal(); }); }
  int64_t randint(int64_t low, int64_t high) {
    return locked([=](RandomStream& s) { return s.randint(low, high); });
  }

 private:
  mutable std::mutex mutex_;
  RandomStream stream_;
  uint64_t initial_seed_;
};

// The generator behind every random draw that is not given one. Seeded with 0
// at start-up.
Generator& default_generator();
void manual_seed(uint64_t seed);               // default_generator().manual_seed
std::string get_rng_state();                   // default_generator().get_state
void set_rng_state(const std::string& state);  // default_generator().set_state

}  // namespace heed
