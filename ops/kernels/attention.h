// The attention kernels: scaled dot-product attention over a batch of
// independent entries, forward and backward. ops/attention.cpp derives the
// formulas; per entry (q [Tq, D], k [Tk, D], v [Tk, Dv]):
//
//   S = scale q k^T              [Tq, Tk]   the scores
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

// Which scores are hidden: where mask is nonzero (entry e's [Tq, Tk] mask at
// mask + offsets[e], element (i, j) at i row_stride + j col_stride, a stride 0
// along a dim the mask broadcasts over), and with causal every key j > query i.
template <class T>
struct Hidden {
  const T* mask = nullptr;  // null: no mask
  const int64_t* offsets = nullptr;
  int64_t row_stride = 0, col_stride = 0;
  bool causal = false;
};

// P = softmax(S) over each row's visible scores, in place on entry e's [Tq, Tk]
// block S: the hidden scores become -inf, whose e^ is exactly 0, and a row with
// nothing visible becomes all 0 (the softmax of nothing would be 0/0 = NaN, and
// the NaN would spread into the loss and every gradient). softmax_rows(x, y,
// rows, D) is the version's own row softmax. Both versions share this step, so
// they cannot differ in which scores they hide.
template <class T, class SoftmaxRows>
void masked_softmax(T* S, const Hidden<T>& hidden, int64_t e, int64_t Tq, int64_t Tk, SoftmaxRows softmax_rows) {
  if (!hidden.mask && !hidden.causal) return softmax_rows(S, S, Tq, Tk);
  const T* mask = hidden.mask ? hidden.mask + hidden.offsets[e] : nullptr;
  for (int64_t i = 0; i < Tq; ++i) {
    T* row = S + i * Tk;
    int64_t visible = 0;
    for (int64_t j = 0; j < Tk; ++j) {
      const bool hide = (hidden.causal && j > i) || (mask && mask[i * hidden.row_stride + j * hidden.col_stride] != 0);
      if (hide) row[j] = -std::numeric_limits<T>::infinity();
      else ++visible;
    }
    if (visible > 0) softmax_rows(row, row, 1, Tk);
    else std::fill(row, row + Tk, T(0));
  }
}

// The same two functions in each namespace, for T = float and T = double:
//
// attention_forward: P [count, Tq, Tk] out (contiguous); W [count, Tq, Tk] out,
//   only with dropout (drop [count, Tq, Tk]: 0 or 1/(1-p) each; else W and drop
//   are null and the weights are P); out [count, Tq, Dv] out.
// attention_backward: from the gradient of out (dout, with W = P * drop when
//   dropping, else null) or of the weights (dweights), exactly one of them given.
//   dq, dk, dv (any may be null: not wanted) are written whole; dv only from dout.
//   Masked scores need nothing here: their P is 0, so is their gradient.

// The formulas one after the other, entry by entry: the composed attention.
namespace reference {
template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W, T* out);
template <class T>
void attention_backward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                        const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv);
}  // namespace reference

// One thread runs every step of an entry while its [Tq, Tk] block is in its
// cache, the threads sharing out the entries (ops/kernels/fast/attention.cpp).
namespace fast {
template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W, T* out);
template <class T>
void attention_backward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                        const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv);
}  // namespace fast

// Each version's .cpp ends with HEED_ATTENTION_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_ATTENTION_KERNELS_FOR(T) \
  template void attention_forward(const AttentionDims&, T, const Matrices<const T>&, const Matrices<const T>&,  \
                                  const Matrices<const T>&, const Hidden<T>&, const T*, T*, T*, T*);            \
  template void attention_backward(const AttentionDims&, T, const Matrices<const T>&, const Matrices<const T>&, \
                                   const Matrices<const T>&, const T*, const T*, const T*,                      \
                                   const Matrices<const T>*, const Matrices<const T>*, const Matrices<T>*,      \
                                   const Matrices<T>*, const Matrices<T>*);

}  // namespace heed::kernels
