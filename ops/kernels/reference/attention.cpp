// Attention as its formulas compose: entry by entry, a product, the masked
// softmax, the dropout, a second product; and back the same way.
#include "heed/ops/kernels/attention.h"

#include <vector>

#include "heed/ops/kernels/gemm.h"
#include "heed/ops/kernels/softmax.h"

namespace heed::kernels::reference {

template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W,
                       const Matrices<T>& out) {
  const int64_t block = d.Tq * d.Tk;
  for (int64_t e = 0; e < d.count; ++e) {
    T* p = P + e * block;
    gemm(false, true, d.Tq, d.Tk, d.D, scale, q.at(e), q.ld, k.at(e), k.ld, T(0), p, d.Tk);  // S = scale q k^T
    masked_softmax(p, hidden, e, d.Tq, d.Tk,
                   [](T* x, T* y, int64_t rows, int64_t D, int64_t ld) { softmax_rows(x, y, rows, D, ld, false); });
    const T* w = p;
    if (drop) {  // W = P * drop
      for (int64_t i = 0; i < block; ++i) W[e * block + i] = p[i] * drop[e * block + i];
      w = W + e * block;
    }
    gemm(false, false, d.Tq, d.Dv, d.Tk, T(1), w, d.Tk, v.at(e), v.ld, T(0), out.at(e), out.ld);  // W v
  }
}

template <class T>
void attention_backward(const AttentionDims& d, T scale, bool /*causal: in P already*/,
                        const Matrices<const T>& q, const Matrices<const T>& k, const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv, bool add_dk, bool add_dv) {
  const int64_t block = d.Tq * d.Tk;
  std::vector<T> dS(static_cast<size_t>(block));  // dW, then dP, then dS
  for (int64_t e = 0; e < d.count; ++e) {
    const T* p = P + e * block;
    // dk and dv with beta = 1 when they add to a sum (add_dk, add_dv), else 0.
    if (dout) {  // out = W v  =>  dW = dout v^T,  dv = W^T dout
      const T* w = drop ? W + e * block : p;
      gemm(false, true, d.Tq, d.Tk, d.Dv, T(1), dout->at(e), dout->ld, v.at(e), v.ld, T(0), dS.data(), d.Tk);
      if (dv) gemm(true, false, d.Tk, d.Dv, d.Tq, T(1), w, d.Tk, dout->at(e), dout->ld, T(add_dv), dv->at(e), dv->ld);
    } else {
      for (int64_t i = 0; i < d.Tq; ++i)
        for (int64_t j = 0; j < d.Tk; ++j) dS[i * d.Tk + j] = dweights->at(e)[i * dweights->ld + j];
    }
    if (drop)  // W = P * drop  =>  dP = dW * drop
      for (int64_t i = 0; i < block; ++i) dS[i] *= drop[e * block + i];
    softmax_backward_rows(p, dS.data(), dS.data(), d.Tq, d.Tk, d.Tk, false);  // dS = P * (dP - rowsum(dP * P))
    // S = scale q k^T  =>  dq = scale dS k,  dk = scale dS^T q
    if (dq) gemm(false, false, d.Tq, d.D, d.Tk, scale, dS.data(), d.Tk, k.at(e), k.ld, T(0), dq->at(e), dq->ld);
    if (dk) gemm(true, false, d.Tk, d.D, d.Tq, scale, dS.data(), d.Tk, q.at(e), q.ld, T(add_dk), dk->at(e), dk->ld);
  }
}

HEED_ATTENTION_KERNELS_FOR(float)
HEED_ATTENTION_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
