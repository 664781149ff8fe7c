// Generators (core/random.h): a factory, dropout or initializer given its own
// generator draws only from it; a generator's state replays exactly; randperm
// is a permutation. Sharing one generator between threads: tests/test_threads.cpp.
#include <algorithm>
#include <map>
#include <numeric>

#include "helpers.h"

using namespace heed;

TEST_CASE("generator: its own stream, apart from the default one") {
  manual_seed(5);
  const std::vector<float> default_alone = Tensor::randn({50}).to_vector();

  manual_seed(5);
  Generator g(9);
  const std::vector<float> from_g = Tensor::randn({50}, kFloat32, g).to_vector();
  Tensor::rand({7}, kFloat32, g);
  Tensor::randint(0, 3, {4}, g);
  Tensor::randperm(10, g);
  nn::init::normal({3, 3}, 0, 1, kFloat32, g);
  nn::init::xavier_uniform({3, 4}, kFloat32, g);
  dropout(Tensor::ones({20}), 0.5, /*training=*/true, g);
  CHECK(Tensor::randn({50}).to_vector() == default_alone);  // none of that touched it

  Generator h(9);  // the same seed, the same numbers
  CHECK(Tensor::randn({50}, kFloat32, h).to_vector() == from_g);
  CHECK(from_g != default_alone);
  CHECK(g.initial_seed() == 9);
  g.manual_seed(4);
  CHECK(g.initial_seed() == 4);
}

TEST_CASE("generator: dropout and the initializers follow their generator") {
  Generator a(3), b(3);
  const Tensor x = Tensor::ones({200});
  CHECK(dropout(x, 0.3, true, a).to_vector() == dropout(x, 0.3, true, b).to_vector());
  CHECK(nn::init::uniform({40}, -2, 2, kFloat32, a).to_vector() ==
        nn::init::uniform({40}, -2, 2, kFloat32, b).to_vector());
  CHECK(nn::init::fan_in_uniform({40}, 7, kFloat64, a).to_vector<double>() ==
        nn::init::fan_in_uniform({40}, 7, kFloat64, b).to_vector<double>());
  // A different seed gives a different mask.
  Generator c(4);
  CHECK(dropout(x, 0.3, true, a).to_vector() != dropout(x, 0.3, true, c).to_vector());
}

TEST_CASE("generator: get_state and set_state replay exactly") {
  Generator g(21);
  Tensor::randn({3}, kFloat64, g);  // odd: a spare normal waits in the state
  const std::string state = g.get_state();
  const std::vector<double> next = Tensor::randn({9}, kFloat64, g).to_vector<double>();
  const std::vector<int64_t> then = Tensor::randint(-5, 5, {9}, g).to_vector<int64_t>();

  g.set_state(state);
  CHECK(Tensor::randn({9}, kFloat64, g).to_vector<double>() == next);
  CHECK(Tensor::randint(-5, 5, {9}, g).to_vector<int64_t>() == then);

  Generator other(0);  // a state moves between generators
  other.set_state(state);
  CHECK(Tensor::randn({9}, kFloat64, other).to_vector<double>() == next);

  // The default generator, through the free functions.
  manual_seed(8);
  const std::string s = get_rng_state();
  const std::vector<float> r = Tensor::rand({5}).to_vector();
  set_rng_state(s);
  CHECK(Tensor::rand({5}).to_vector() == r);

  SUBCASE("text that get_state did not write is refused, and the state is kept") {
    const std::string before = g.get_state();
    for (const std::string& bad : {std::string(), std::string("12 34"), state + " 5", state.substr(0, state.size() / 2),
                                   state.substr(0, state.rfind(' ', state.rfind(' ') - 1)) + " 2 0"})
      CHECK_THROWS_CONTAINING(g.set_state(bad), "Generator::set_state: the text", ValueError);
    CHECK(g.get_state() == before);
  }
}

TEST_CASE("randperm: each of 0..n-1 once, reproducible, every order reachable") {
  Generator g(2);
  const std::vector<int64_t> p = Tensor::randperm(100, g).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(p != iota);
  Generator h(2);
  CHECK(Tensor::randperm(100, h).to_vector<int64_t>() == p);

  // All 6 orders of 3 elements turn up, each about 1/6 of the time.
  std::map<std::vector<int64_t>, int> seen;
  for (int i = 0; i < 6000; ++i) ++seen[Tensor::randperm(3, g).to_vector<int64_t>()];
  CHECK(seen.size() == 6);
  for (const auto& [order, count] : seen) CHECK(std::abs(count - 1000) < 150);  // ~5 standard deviations

  CHECK(Tensor::randperm(0).numel() == 0);
  CHECK(Tensor::randperm(1).to_vector<int64_t>() == std::vector<int64_t>{0});
  CHECK(Tensor::randperm(4).dtype() == kInt64);
  CHECK_THROWS_CONTAINING(Tensor::randperm(-1), "randperm: n is -1; it must be >= 0", ValueError);
}
