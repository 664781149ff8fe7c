// The fast attention kernels (ops/kernels/fast/attention.cpp: each entry's steps
// on one thread, the threads sharing out the entries) against the reference
// (the steps composed entry by entry), with and without masks, additive biases,
// causal masking (which the fast kernel cuts into blocks of query rows) and
// dropout, from the output's gradient and from the weights'.
//
// Tolerance: the same products and softmax in another arrangement (the softmax's
// fast exp, the products' order of additions). An output entry is a sum of Tk
// terms of size about 1 that may cancel to a value far smaller than they are, so
// the bound is absolute as well as relative: in float 1e-5 of each (K eps for up
// to a thousand terms, with room), in double 1e-12.
#include <limits>
#include <tuple>

#include "heed/ops/kernels/attention.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

// count matrices of [rows, cols], stored with rows ld = cols + 2 apart (the kernels
// must not assume contiguous rows), entry e at offset e * rows * ld.
template <class T>
struct Batch {
  int64_t count, rows, cols, ld;
  std::vector<T> data;
  std::vector<int64_t> offsets;
  Batch(int64_t count_, int64_t rows_, int64_t cols_, uint64_t seed)
      : count(count_), rows(rows_), cols(cols_), ld(cols_ + 2),
        data(random_values<T>(count_ * rows_ * (cols_ + 2), seed)), offsets(count_) {
    for (int64_t e = 0; e < count; ++e) offsets[e] = e * rows * ld;
  }
  kernels::Matrices<const T> in() const { return {data.data(), offsets.data(), ld}; }
  kernels::Matrices<T> out() { return {data.data(), offsets.data(), ld}; }
  // The entries' elements only, row by row (the padding between rows left out).
  std::vector<T> values() const {
    std::vector<T> v;
    for (int64_t e = 0; e < count; ++e)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) v.push_back(data[offsets[e] + r * ld + c]);
    return v;
  }
};

template <class T>
void run_case(const kernels::AttentionDims& d, int hidden_kind, bool dropping, uint64_t seed) {
  const bool is_float = sizeof(T) == 4;
  const double rtol = is_float ? 1e-5 : 1e-12, atol = is_float ? 1e-5 : 1e-12;
  const std::string what = msg("attention count ", d.count, " Tq ", d.Tq, " Tk ", d.Tk, " D ", d.D, " Dv ", d.Dv,
                               " hidden ", hidden_kind, dropping ? " dropout" : "");
  const Batch<T> q(d.count, d.Tq, d.D, seed), k(d.count, d.Tk, d.D, seed + 1), v(d.count, d.Tk, d.Dv, seed + 2);
  const int64_t block = d.Tq * d.Tk;
  // hidden_kind: 0 none, 1 a [Tq, Tk] mask per entry (a key padding mask, one
  // row broadcast down: row stride 0), 2 causal, 3 a full mask and causal, 4 an
  // additive bias, 5 the bias and causal. The full mask hides about a third of
  // the scores, and every score of query 0 of the last entry, so that one row is
  // all hidden. The bias is random, -inf at about one score in five, and -inf
  // for every score of query 1 of the first entry.
  std::vector<T> mask(d.count * block);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = (i * 7 + seed) % 3 == 0 ? T(1) : T(0);
  for (int64_t j = 0; j < d.Tk; ++j) mask[(d.count - 1) * block + j] = 1;
  std::vector<int64_t> mask_offsets(d.count);
  for (int64_t e = 0; e < d.count; ++e) mask_offsets[e] = e * block;
  std::vector<T> bias = random_values<T>(d.count * block, seed + 4);
  for (size_t i = 0; i < bias.size(); ++i)
    if ((i * 11 + seed) % 5 == 0) bias[i] = -std::numeric_limits<T>::infinity();
  if (d.Tq > 1)
    for (int64_t j = 0; j < d.Tk; ++j) bias[d.Tk + j] = -std::numeric_limits<T>::infinity();
  kernels::Hidden<T> hidden;
  if (hidden_kind == 1) hidden = {.mask = mask.data(), .offsets = mask_offsets.data(), .row_stride = 0, .col_stride = 1};
  if (hidden_kind == 3) hidden = {.mask = mask.data(), .offsets = mask_offsets.data(), .row_stride = d.Tk, .col_stride = 1};
  if (hidden_kind >= 4) {
    hidden.bias = bias.data();
    hidden.bias_offsets = mask_offsets.data();
    hidden.bias_row_stride = d.Tk;
    hidden.bias_col_stride = 1;
  }
  hidden.causal = hidden_kind == 2 || hidden_kind == 3 || hidden_kind == 5;
  std::vector<T> drop(d.count * block);
  for (size_t i = 0; i < drop.size(); ++i) drop[i] = (i * 5 + seed) % 4 == 0 ? T(0) : T(4.0 / 3);

  const T scale = static_cast<T>(0.37);
  struct Forward {
    std::vector<T> P, W, out;
  };
  auto forward = [&](auto kernel) {
    Forward f{std::vector<T>(d.count * block), std::vector<T>(dropping ? d.count * block : 0), {}};
    Batch<T> out(d.count, d.Tq, d.Dv, 0);  // strided rows, as heads side by side write them
    kernel(d, scale, q.in(), k.in(), v.in(), hidden, dropping ? drop.data() : nullptr, f.P.data(),
           dropping ? f.W.data() : nullptr, out.out());
    f.out = out.values();
    return f;
  };
  const Forward fast = forward([](auto&&... a) { kernels::fast::attention_forward<T>(a...); });
  const Forward ref = forward([](auto&&... a) { kernels::reference::attention_forward<T>(a...); });
  check_kernel(what + " weights", fast.P, ref.P, rtol, atol);
  check_kernel(what + " dropped weights", fast.W, ref.W, rtol, atol);
  check_kernel(what + " out", fast.out, ref.out, rtol, atol);

  // Backward, from the reference's forward, once from out's gradient and once
  // from the weights'; dk and dv written whole, or added to what they hold (a
  // sum the engine offers).
  for (bool from_out : {true, false})
    for (bool adding : {false, true}) {
      const Batch<T> g(d.count, d.Tq, from_out ? d.Dv : d.Tk, seed + 3);
      const Batch<T> held_k(d.count, d.Tk, d.D, seed + 5), held_v(d.count, d.Tk, d.Dv, seed + 6);
      auto backward = [&](auto kernel, bool add) {
        Batch<T> dq(d.count, d.Tq, d.D, 0), dk = held_k, dv = held_v;
        const kernels::Matrices<const T> mg = g.in();
        const kernels::Matrices<T> mdq = dq.out(), mdk = dk.out(), mdv = dv.out();
        kernel(d, scale, hidden.causal, q.in(), k.in(), v.in(), ref.P.data(), dropping ? drop.data() : nullptr,
               dropping ? ref.W.data() : nullptr, from_out ? &mg : nullptr, from_out ? nullptr : &mg, &mdq, &mdk,
               from_out ? &mdv : nullptr, add, add);
        return std::tuple{dq.values(), dk.values(), from_out ? dv.values() : std::vector<T>()};
      };
      auto fast_kernel = [](auto&&... a) { kernels::fast::attention_backward<T>(a...); };
      auto reference_kernel = [](auto&&... a) { kernels::reference::attention_backward<T>(a...); };
      const auto [fdq, fdk, fdv] = backward(fast_kernel, adding);
      const auto [rdq, rdk, rdv] = backward(reference_kernel, adding);
      const std::string from = msg(from_out ? " from out" : " from the weights", adding ? ", adding: " : ": ");
      check_kernel(what + from + "dq", fdq, rdq, rtol, atol);
      check_kernel(what + from + "dk", fdk, rdk, rtol, atol);
      check_kernel(what + from + "dv", fdv, rdv, rtol, atol);
      if (!adding) continue;
      // The reference adds what it writes whole: held + the fresh gradient.
      const auto [wdq, wdk, wdv] = backward(reference_kernel, false);
      std::vector<T> sum_k = held_k.values(), sum_v = held_v.values();
      for (size_t i = 0; i < sum_k.size(); ++i) sum_k[i] += wdk[i];
      for (size_t i = 0; i < wdv.size(); ++i) sum_v[i] += wdv[i];
      check_kernel(what + from + "dk = held + written whole", rdk, sum_k, rtol, atol);
      if (from_out) check_kernel(what + from + "dv = held + written whole", rdv, sum_v, rtol, atol);
    }
}

}  // namespace

TEST_CASE("kernels/attention: fast equals reference, masks, causal and dropout, forward and backward") {
  uint64_t seed = 1;
  with_threads({1, 2, 3}, [&] {
    std::vector<kernels::AttentionDims> dims;
    for (int64_t T : {1, 7, 9, 33}) dims.push_back({3, T, T, 8, 9});                       // self-attention sizes
    dims.push_back({8, 1, 33, 33, 1});                                                    // one query per entry
    dims.push_back({2, 9, 1000, 7, 8});                                                   // a long key sequence
    dims.push_back({16, 64, 64, 32, 32});                                                 // enough work to share out
    dims.push_back({2, 100, 100, 8, 9});   // causal blocks, the last one short
    dims.push_back({2, 70, 50, 8, 9});     // causal with more queries than keys: the last rows see every key
    dims.push_back({2, 40, 100, 8, 9});    // causal with more keys than queries: keys 40.. are never seen
    for (const kernels::AttentionDims& d : dims)
      for (int hidden : {0, 1, 2, 3, 4, 5})
        for (bool dropping : {false, true}) {
          run_case<float>(d, hidden, dropping, seed++);
          run_case<double>(d, hidden, dropping, seed++);
        }
  });
}
