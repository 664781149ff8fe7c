// Anomaly mode (autograd/anomaly.h): a NaN or Inf made by some op's backward is
// caught at that op, and the error says which op and where the forward made it.
// With the mode off, NaN gradients pass silently, as in PyTorch.
#include <cmath>
#include <limits>

#include "helpers.h"
#include "heed/autograd/anomaly.h"

using namespace heed;
using namespace heed::test;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// y = x, with a backward that plants a NaN in the middle of the gradient. It is
// recorded here, so its creation site is this file.
Tensor plant_nan(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x.clone();
  }
  if (!needs_grad({x})) return y;
  return record("plant_nan", y, {x}, [](const Tensor& dy) -> TensorList {
    Tensor g = dy.clone();
    g.data_ptr<double>()[g.numel() / 2] = std::numeric_limits<double>::quiet_NaN();
    return {g};
  });
}

// The message of the AutogradError that f throws ("" if it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const AutogradError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("anomaly/log(0) * 0: the error names 'log' and where it was created") {
  // Forward: log(0) = -inf, times 0 is NaN. Backward: mul_scalar sends 0 on, and
  // log's backward computes 0 / x = 0 / 0 = NaN at x = 0. Blame: 'log'.
  DetectAnomalyGuard anomaly;
  Tensor x = Tensor({1, 0, 2}, kFloat64).requires_grad_();
  Tensor loss = (log(x) * 0.0).sum();  // op #1 log, #2 mul_scalar, #3 sum
  std::string err = error_of([&] { loss.backward(); });
  INFO(err);
  CHECK(err.find("anomaly: backward of 'log' (created at ops/elementwise.cpp:") == 0);
  CHECK(err.find("op #1 of the forward) produced NaN in the gradient for input 0 (shape [3]): 1 of 3 "
                 "elements NaN, 0 Inf") != std::string::npos);
  // The function that recorded it: its whole signature from std::source_location,
  // its bare name where the compiler lacks that (autograd/source_site.h).
#ifdef __cpp_lib_source_location
  CHECK(err.find("heed::log(") != std::string::npos);
#else
  CHECK(err.find(" in log,") != std::string::npos);
#endif
  CHECK(err.find("forward call stack where 'log' was created") != std::string::npos);
}

TEST_CASE("anomaly/sqrt at 0 makes an Inf, blamed on 'sqrt' with its place in the forward") {
  DetectAnomalyGuard anomaly;
  Tensor x = Tensor({4, 0, 1}, kFloat64).requires_grad_();
  Tensor y = exp(x * 0.5);             // ops #1, #2
  Tensor loss = (sqrt(x) + y).sum();   // #3 sqrt, #4 add, #5 sum
  CHECK_THROWS_CONTAINING(loss.backward(), "backward of 'sqrt'", AutogradError);
  // The count restarts after each backward, even one that failed.
  Tensor again = (sqrt(x) * 1.0).sum();  // #1 sqrt
  std::string err = error_of([&] { again.backward(); });
  INFO(err);
  CHECK(err.find("op #1 of the forward) produced Inf in the gradient for input 0 (shape [3]): 0 of 3 "
                 "elements NaN, 1 Inf") != std::string::npos);
}

TEST_CASE("anomaly/a planted NaN-producing op is named, with this file as its creation site") {
  DetectAnomalyGuard anomaly;
  Tensor x = Tensor({1, 2, 3, 4}, kFloat64).requires_grad_();
  Tensor h = tanh(x);                        // op #1
  Tensor loss = (plant_nan(h) * 2.0).sum();  // #2 plant_nan, #3 mul_scalar, #4 sum
  std::string err = error_of([&] { loss.backward(); });
  INFO(err);
  CHECK(err.find("anomaly: backward of 'plant_nan' (created at ") == 0);
  CHECK(err.find("test_anomaly.cpp:") != std::string::npos);
  CHECK(err.find("op #2 of the forward) produced NaN in the gradient for input 0 (shape [4])") !=
        std::string::npos);
  CHECK_FALSE(x.grad().defined());  // it stopped at the op: nothing NaN reached x
}

TEST_CASE("anomaly/off: NaN gradients pass silently, and nothing is recorded") {
  REQUIRE_FALSE(is_anomaly_enabled());
  Tensor x = Tensor({1, 0, 2}, kFloat64).requires_grad_();
  Tensor loss = (log(x) * 0.0).sum();
  CHECK_FALSE(loss.grad_fn()->creation_site);  // no cost: no site captured
  loss.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  CHECK(g[0] == 0);
  CHECK(std::isnan(g[1]));
  CHECK(g[2] == 0);
}

TEST_CASE("anomaly/other places a NaN can enter") {
  DetectAnomalyGuard anomaly;
  SUBCASE("the gradient backward() starts from") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    CHECK_THROWS_CONTAINING((x * 2.0).backward(Tensor({kInf, 1}, kFloat64)),
                            "anomaly: the gradient backward() starts from (shape [2]) has Inf: 0 of 2 elements NaN, 1 Inf",
                            AutogradError);
  }
  SUBCASE("a hook's replacement") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    Tensor h = exp(x);
    h.register_hook([](const Tensor& g) { return g * kNaN; });
    CHECK_THROWS_CONTAINING(h.sum().backward(), "anomaly: a hook on the output of 'exp' (created at ops/",
                            AutogradError);
    Tensor w = Tensor({1.0}, kFloat64).requires_grad_();
    w.register_hook([](const Tensor& g) { return g * kNaN; });
    CHECK_THROWS_CONTAINING((w * 3.0).sum().backward(), "anomaly: a hook on a leaf (shape [1]) returned a gradient with NaN",
                            AutogradError);
  }
  SUBCASE("an error inside a backward gets the op's creation site") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    Tensor y = tanh(x);  // saves y for its backward
    Tensor loss = y.sum();
    {
      NoGradGuard no_grad;
      y.mul_(2.0);  // ... which this write invalidates
    }
    std::string err = error_of([&] { loss.backward(); });
    INFO(err);
    CHECK(err.find("modified by an in-place operation") != std::string::npos);
    CHECK(err.find("(in the backward of 'tanh' (created at ops/activation.cpp:") != std::string::npos);
  }
  SUBCASE("finite gradients pass, and the answer is unchanged") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    (x * x).sum().backward();
    check_values(x.grad(), {2, 4});
  }
  SUBCASE("a gradient for an input that needs none is not checked: it goes nowhere") {
    Tensor x = Tensor({1.0}, kFloat64).requires_grad_();
    Tensor data = Tensor({2.0}, kFloat64);
    Tensor y;
    {
      NoGradGuard no_grad;
      y = x.clone();
    }
    // y = x; the backward also returns a NaN "gradient" for data, which needs none.
    y = record("nan_for_data", y, {x, data}, [](const Tensor& dy) -> TensorList {
      return {dy, Tensor::full({1}, kNaN, kFloat64)};
    });
    y.sum().backward();
    check_values(x.grad(), {1});
  }
}

TEST_CASE("anomaly/the mode and its guard") {
  CHECK_FALSE(is_anomaly_enabled());
  {
    DetectAnomalyGuard on;
    CHECK(is_anomaly_enabled());
    {
      DetectAnomalyGuard off(false);
      CHECK_FALSE(is_anomaly_enabled());
    }
    CHECK(is_anomaly_enabled());
    // Only ops recorded with the mode on have a creation site, numbered from 1.
    Tensor x = Tensor({1.0}).requires_grad_();
    Tensor y = x * 2.0;
    REQUIRE(y.grad_fn()->creation_site);
    CHECK(y.grad_fn()->creation_site->ordinal == 1);
    CHECK((y + 1.0).grad_fn()->creation_site->ordinal == 2);
    CHECK(y.grad_fn()->creation_site->describe().find("ops/elementwise.cpp:") == 0);
#if __has_include(<execinfo.h>)
    CHECK_FALSE(y.grad_fn()->creation_site->frames.empty());
#endif
  }
  CHECK_FALSE(is_anomaly_enabled());
}

TEST_CASE("anomaly/count_non_finite") {
  Tensor t = Tensor({{1, kNaN, 3}, {kInf, -kInf, 6}}, kFloat64);
  NonFiniteCount all = count_non_finite(t);
  CHECK(all.nan == 1);
  CHECK(all.inf == 2);
  NonFiniteCount column = count_non_finite(t.t().select(0, 0));  // strided: [1, inf]
  CHECK(column.nan == 0);
  CHECK(column.inf == 1);
  CHECK_FALSE(count_non_finite(Tensor::zeros({0, 3})).any());
  CHECK_FALSE(count_non_finite(Tensor::arange(5, kInt64)).any());
  Tensor big = Tensor::zeros({100000});  // past kParallelGrain: the OpenMP reduction
  big.data_ptr<float>()[77777] = std::numeric_limits<float>::quiet_NaN();
  CHECK(count_non_finite(big).nan == 1);
}

TEST_CASE("anomaly/check_forward: the op that first makes a NaN or an Inf") {
  DetectAnomalyGuard anomaly(true, /*check_forward=*/true);
  CHECK(is_anomaly_forward_check_enabled());
  Tensor w = Tensor({1, 2, 0, 3}, kFloat64).requires_grad_();

  SUBCASE("log(0) makes an Inf: named in the forward, before any backward") {
    Tensor y = w * 2.0;  // op #1, finite
    std::string err = error_of([&] { log(y); });
    INFO(err);
    CHECK(err.find("anomaly: forward of 'log' (created at ops/elementwise.cpp:") == 0);
    CHECK(err.find("op #2 of the forward) produced Inf (shape [4]): 0 of 4 elements NaN, 1 Inf; none of its "
                   "inputs held an Inf") != std::string::npos);
    CHECK(err.find("forward call stack where 'log' was created") != std::string::npos);
  }
  SUBCASE("sqrt of a negative makes a NaN") {
    CHECK_THROWS_CONTAINING(sqrt(w - 1.0), "forward of 'sqrt'", AutogradError);
    CHECK_THROWS_CONTAINING(sqrt(w - 1.0), "produced NaN (shape [4]): 1 of 4 elements NaN, 0 Inf", AutogradError);
  }
  SUBCASE("an Inf passed on is not reported; the NaN it later makes is") {
    const double kMinusInf = -kInf;
    Tensor mask = Tensor({0.0, kMinusInf, 0.0, 0.0}, kFloat64);  // an additive mask: data, not recorded
    Tensor scores = (w + mask).reshape({2, 2});                  // -inf carried: fine
    Tensor p = softmax(scores, 1);                               // a row with one -inf: fine
    CHECK(p.to_vector<double>()[1] == 0);
    Tensor all_masked = w.reshape({2, 2}) + Tensor({{kMinusInf, kMinusInf}, {0.0, 0.0}}, kFloat64);
    std::string err = error_of([&] { softmax(all_masked, 1); });  // a row of nothing but -inf: 0/0
    INFO(err);
    CHECK(err.find("anomaly: forward of 'softmax'") == 0);
    CHECK(err.find("produced NaN (shape [2, 2]): 2 of 4 elements NaN, 0 Inf; none of its inputs held a NaN") !=
          std::string::npos);
  }
  SUBCASE("a NaN from outside the graph is reported where it enters") {
    Tensor data = Tensor({1.0, kNaN, 3.0, 4.0}, kFloat64);
    std::string err = error_of([&] { data * w; });
    INFO(err);
    CHECK(err.find("anomaly: input 0 of 'mul' (created at ") == 0);
    CHECK(err.find("(shape [4]) holds NaN: 1 of 4 elements NaN, 0 Inf; no recorded op made it") !=
          std::string::npos);
  }
  SUBCASE("finite forwards pass, and the backward is still checked") {
    Tensor loss = (tanh(w) * w).sum();
    loss.backward();
    CHECK(w.grad().defined());
  }
  SUBCASE("ops that record nothing are not checked") {
    NoGradGuard no_grad;
    CHECK(std::isinf(log(w).to_vector<double>()[2]));
  }
}

TEST_CASE("anomaly/check_forward is off unless asked for") {
  Tensor w = Tensor({1, 0}, kFloat64).requires_grad_();
  {
    DetectAnomalyGuard anomaly;  // backward checks only, as before
    CHECK_FALSE(is_anomaly_forward_check_enabled());
    CHECK(std::isinf(log(w).to_vector<double>()[1]));
    {
      DetectAnomalyGuard forward_too(true, true);
      CHECK_THROWS_AS(log(w), AutogradError);
    }
    CHECK_FALSE(is_anomaly_forward_check_enabled());  // the guard put it back
  }
  DetectAnomalyGuard off_with_forward(false, true);  // no anomaly mode, no forward check
  CHECK_FALSE(is_anomaly_forward_check_enabled());
  CHECK(std::isinf(log(w).to_vector<double>()[1]));
}
