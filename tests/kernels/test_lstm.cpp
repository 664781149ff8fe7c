// The fast LSTM kernels (ops/kernels/fast/lstm.cpp: the gate math in vector lanes
// with a fast exp, the time loop shared by hidden unit between threads) against
// the reference loops.
//
// Tolerances. float: the fast sigmoid and tanh are within a few ulp of libm's
// (built on expm1_fast, test_fast_math.cpp), so one step agrees to 1e-5 relative
// and 1e-6 absolute; over T steps the small differences feed back through h and
// c, so whole layers are held to 1e-4 and 1e-5. double: both use libm, and only
// the products' order of additions differs: 1e-11.
#include <cmath>
#include <tuple>

#include "heed/ops/kernels/lstm.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
void gates_case(int64_t B, int64_t H, uint64_t seed) {
  const bool is_float = sizeof(T) == 4;
  const double rtol = is_float ? 1e-5 : 1e-11, atol = is_float ? 1e-6 : 1e-12;
  const std::string what = msg("lstm_gates B ", B, " H ", H);
  const std::vector<T> z = random_values<T>(B * 4 * H, seed, 2.0), c_prev = random_values<T>(B * H, seed + 1);
  std::vector<T> az = z, rz = z;  // pre-activations in, activations out
  std::vector<T> fc(B * H), fh(B * H), fk(B * H), rc(B * H), rh(B * H), rk(B * H);
  kernels::fast::lstm_gates(az.data(), c_prev.data(), fc.data(), fh.data(), fk.data(), B, H);
  kernels::reference::lstm_gates(rz.data(), c_prev.data(), rc.data(), rh.data(), rk.data(), B, H);
  check_kernel(what + " activations", az, rz, rtol, atol);
  check_kernel(what + " c", fc, rc, rtol, atol);
  check_kernel(what + " h", fh, rh, rtol, atol);
  check_kernel(what + " tanh(c)", fk, rk, rtol, atol);

  const std::vector<T> dh = random_values<T>(B * H, seed + 2), dc_next = random_values<T>(B * H, seed + 3);
  std::vector<T> fdc = dc_next, rdc = dc_next, fdz(B * 4 * H), rdz(B * 4 * H);
  kernels::fast::lstm_gates_backward(rz.data(), c_prev.data(), rk.data(), dh.data(), fdc.data(), fdz.data(), B, H);
  kernels::reference::lstm_gates_backward(rz.data(), c_prev.data(), rk.data(), dh.data(), rdc.data(), rdz.data(), B,
                                          H);
  check_kernel(what + " backward dz", fdz, rdz, rtol, atol);
  check_kernel(what + " backward dc", fdc, rdc, rtol, atol);
}

template <class T>
void steps_case(int64_t steps, int64_t B, int64_t H, bool bias, uint64_t seed) {
  const bool is_float = sizeof(T) == 4;
  const double rtol = is_float ? 1e-4 : 1e-11, atol = is_float ? 1e-5 : 1e-12;
  const std::string what = msg("lstm_steps T ", steps, " B ", B, " H ", H, bias ? " with bias" : "");
  const std::vector<T> z = random_values<T>(steps * B * 4 * H, seed), h0 = random_values<T>(B * H, seed + 1);
  // W_hh as PyTorch draws it, entries of size 1/sqrt(H): each h W_hh^T stays of size 1.
  const std::vector<T> w = random_values<T>(4 * H * H, seed + 2, 1 / std::sqrt(static_cast<double>(H)));
  const std::vector<T> b = random_values<T>(4 * H, seed + 3);
  std::vector<T> cs0 = random_values<T>((steps + 1) * B * H, seed + 4);  // cs[0] = c_0 in
  struct Run {
    std::vector<T> acts, cs, ks, hs;
  };
  auto forward = [&](auto kernel) {
    Run r{z, cs0, std::vector<T>(steps * B * H), std::vector<T>(steps * B * H)};
    kernel(r.acts.data(), bias ? b.data() : nullptr, h0.data(), w.data(), r.cs.data(), r.ks.data(), r.hs.data(),
           steps, B, H);
    return r;
  };
  const Run fast = forward([](auto... a) { kernels::fast::lstm_steps(a...); });
  const Run ref = forward([](auto... a) { kernels::reference::lstm_steps(a...); });
  check_kernel(what + " activations", fast.acts, ref.acts, rtol, atol);
  check_kernel(what + " c", fast.cs, ref.cs, rtol, atol);
  check_kernel(what + " tanh(c)", fast.ks, ref.ks, rtol, atol);
  check_kernel(what + " h", fast.hs, ref.hs, rtol, atol);

  // The backward, from the reference's forward (so only the backward differs).
  const std::vector<T> dy = random_values<T>(steps * B * H, seed + 5), dc_last = random_values<T>(B * H, seed + 6);
  auto backward = [&](auto kernel, std::vector<T>& dz, std::vector<T>& dc) {
    std::vector<T> dh(B * H);
    dz.assign(steps * B * 4 * H, T(0));
    dc = dc_last;
    kernel(ref.acts.data(), ref.cs.data(), ref.ks.data(), dy.data(), w.data(), dz.data(), dc.data(), dh.data(), steps,
           B, H);
  };
  std::vector<T> fdz, fdc, rdz, rdc;
  backward([](auto... a) { kernels::fast::lstm_steps_backward(a...); }, fdz, fdc);
  backward([](auto... a) { kernels::reference::lstm_steps_backward(a...); }, rdz, rdc);
  check_kernel(what + " backward dz", fdz, rdz, rtol, atol);
  check_kernel(what + " backward dc_0", fdc, rdc, rtol, atol);
}

}  // namespace

TEST_CASE("kernels/lstm_gates: fast equals reference, forward and backward") {
  uint64_t seed = 1;
  for (int64_t B : {1, 7, 33, 1000})
    for (int64_t H : {1, 7, 8, 9, 33}) {
      gates_case<float>(B, H, seed++);
      gates_case<double>(B, H, seed++);
    }
}

TEST_CASE("kernels/lstm_steps: fast equals reference over whole layers, 1 to 3 threads") {
  uint64_t seed = 100;
  with_threads({1, 2, 3}, [&] {
    // (T, B, H): small ones on one thread; B 33 H 64 (one step, an LSTMCell's, and
    // five) and B 9 H 1000 big enough for a team.
    for (auto [T, B, H] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 1, 1}, {2, 7, 8}, {7, 9, 9}, {3, 33, 33}, {1, 33, 64}, {5, 33, 64}, {2, 9, 1000}})
      for (bool bias : {false, true}) {
        steps_case<float>(T, B, H, bias, seed++);
        steps_case<double>(T, B, H, bias, seed++);
      }
  });
}
