// The attention kernels: scaled dot-product attention over a batch of
// independent entries, forward and backward. ops/attention.cpp derives the
// formulas; per entry (q [Tq, D], k [Tk, D], v [Tk, Dv]):
//
//   S = scale q k^T (+ bias)     [Tq, Tk]   the scores
//   P = softmax(S) per row, hidden scores excluded (a row with every score
//       hidden is all 0)         [Tq, Tk]
//   W = P * drop (with dropout; else W = P)   the weights the op returns
//   out = W v                    [Tq, Dv]
#pragma once

#include <cstdint>
#include <algorithm>
#include <limits>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// One operand of the batch: entry e's matrix starts at data + offsets[e], its
// rows ld elements apart, each row contiguous.
template <class T>
struct Matrices {
  T* data;
  const int64_t* offsets;
  int64_t ld;
  T* at(int64_t e) const { return data + offsets[e]; }
};

// The sizes: `count` entries, each q [Tq, D], k [Tk, D], v [Tk, Dv].
struct AttentionDims {
  int64_t count, Tq, Tk, D, Dv;
};

// What the scores get before the softmax. First an additive bias, where one is
// given (entry e's [Tq, Tk] bias at bias + bias_offsets[e], element (i, j) at
// i bias_row_stride + j bias_col_stride; a stride 0 along a dim it broadcasts
// over): S + bias, and a bias of -inf hides its score. Then the hidden scores:
// where mask is nonzero (laid out like the bias), and with causal every key
// j > query i.
template <class T>
struct Hidden {
  const T* mask = nullptr;  // null: no mask
  const int64_t* offsets = nullptr;
  int64_t row_stride = 0, col_stride = 0;
  const T* bias = nullptr;  // null: no bias
  const int64_t* bias_offsets = nullptr;
  int64_t bias_row_stride = 0, bias_col_stride = 0;
  bool causal = false;
};

// P = softmax(S) over each row's visible scores, in place, for `rows` rows of
// entry e from query i0 on (row r of the block at S + r ld), over their first
// `cols` keys: the caller has already set the rest to 0 (a causal block stops at
// its last query's key). The hidden scores become -inf, whose e^ is exactly 0,
// and a row with nothing visible becomes all 0 (the softmax of nothing would be
// 0/0 = NaN, and the NaN would spread into the loss and every gradient).
// softmax_rows(x, y, rows, D, ld) is the version's own row softmax (kernels/
// softmax.h). Both versions share this step, so they cannot differ in which
// scores they hide.
template <class T, class SoftmaxRows>
void masked_softmax(T* S, int64_t ld, const Hidden<T>& hidden, int64_t e, int64_t i0, int64_t rows, int64_t cols,
                    SoftmaxRows softmax_rows) {
  if (hidden.causal && !hidden.mask && !hidden.bias) {
    // Causal alone: row i's visible keys are exactly 0..i, a prefix, so the
    // rest of each row is set to -inf with no test per score. Then one softmax
    // call covers the block's rows, all `cols` long, where a call per row of its
    // own prefix would spend most of its time on the calls and on the scalar
    // tails of rows of every length. e^-inf is exactly 0: each row's max, its
    // terms and so its P are the prefix's (its sum adds them in another order).
    for (int64_t r = 0; r < rows; ++r) {
      T* row = S + r * ld;
      std::fill(row + std::min(i0 + r + 1, cols), row + cols, -std::numeric_limits<T>::infinity());
    }
    softmax_rows(S, S, rows, cols, ld);
    return;
  }
  const T* mask = hidden.mask ? hidden.mask + hidden.offsets[e] : nullptr;
  const T* bias = hidden.bias ? hidden.bias + hidden.bias_offsets[e] : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r;
    T* row = S + r * ld;
    int64_t visible = 0;
    for (int64_t j = 0; j < cols; ++j) {
      if (bias) row[j] += bias[i * hidden.bias_row_stride + j * hidden.bias_col_stride];
      const bool hide = (hidden.causal && j > i) || (mask && mask[i * hidden.row_stride + j * hidden.col_stride] != 0) ||
                        row[j] == -std::numeric_limits<T>::infinity();
      if (hide) row[j] = -std::numeric_limits<T>::infinity();
      else ++visible;
    }
    if (visible > 0) softmax_rows(row, row, 1, cols, ld);
    else std::fill(row, row + cols, T(0));
  }
}

// The whole [Tq, Tk] block of entry e (rows Tk apart); with nothing to hide or
// add, a plain softmax of every row.
template <class T, class SoftmaxRows>
void masked_softmax(T* S, const Hidden<T>& hidden, int64_t e, int64_t Tq, int64_t Tk, SoftmaxRows softmax_rows) {
  if (!hidden.mask && !hidden.bias && !hidden.causal) return softmax_rows(S, S, Tq, Tk, Tk);
  masked_softmax(S, Tk, hidden, e, 0, Tq, Tk, softmax_rows);
}

// The same two functions in each namespace, for T = float and T = double:
//
// attention_forward: P [count, Tq, Tk] out (contiguous); W [count, Tq, Tk] out,
//   only with dropout (drop [count, Tq, Tk]: 0 or 1/(1-p) each; else W and drop
//   are null and the weights are P); out: count matrices [Tq, Dv] out (rows
//   out.ld apart, so that heads can write side by side into one [T, H Dv] row).
// attention_backward: from the gradient of out (dout, with W = P * drop when
//   dropping, else null) or of the weights (dweights), exactly one of them given.
//   dq, dk, dv (any may be null: not wanted) are written whole; dv only from dout.
//   With add_dk (add_dv) the gradient is added to what dk (dv) holds instead:
//   the sum the engine keeps for the keys (values) attended at every step of a
//   decoder (autograd/engine.h: gradient_sum_of_input). dk and dv may then be
//   one matrix, when the keys are the values.
//   Masked scores need nothing here: their P is 0, so is their gradient. causal
//   says only that the keys after query i have P = 0, which the fast version
//   uses to skip them.

// The formulas one after the other, entry by entry: the composed attention.
namespace reference {
template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W,
                       const Matrices<T>& out);
template <class T>
void attention_backward(const AttentionDims& d, T scale, bool causal, const Matrices<const T>& q,
                        const Matrices<const T>& k, const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv, bool add_dk, bool add_dv);
}  // namespace reference

// One thread runs every step of an entry while its [Tq, Tk] block is in its
// cache, the threads sharing out the entries (ops/kernels/fast/attention.cpp).
namespace fast {
template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W,
                       const Matrices<T>& out);
template <class T>
void attention_backward(const AttentionDims& d, T scale, bool causal, const Matrices<const T>& q,
                        const Matrices<const T>& k, const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv, bool add_dk, bool add_dv);
}  // namespace fast

// Each version's .cpp ends with HEED_ATTENTION_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_ATTENTION_KERNELS_FOR(T) \
  template void attention_forward(const AttentionDims&, T, const Matrices<const T>&, const Matrices<const T>&,  \
                                  const Matrices<const T>&, const Hidden<T>&, const T*, T*, T*,                \
                                  const Matrices<T>&);                                                         \
  template void attention_backward(const AttentionDims&, T, bool, const Matrices<const T>&,                    \
                                   const Matrices<const T>&, const Matrices<const T>&, const T*, const T*,     \
                                   const T*,                                                                   \
                                   const Matrices<const T>*, const Matrices<const T>*, const Matrices<T>*,      \
                                   const Matrices<T>*, const Matrices<T>*, bool, bool);

}  // namespace heed::kernels
