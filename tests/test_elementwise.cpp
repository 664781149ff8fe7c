#include "helpers.h"

using namespace heed;
using namespace heed::test;

TEST_CASE("tanh") {
  SUBCASE("values") { CHECK(tanh(Tensor({1.0})).item() == doctest::Approx(0.7615942)); }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return tanh(x[0]); }, {randn64({3, 4})}));
  }
}
