// Attention, fast: the same steps as the reference (reference/attention.cpp),
// arranged for the cache and the threads.
//
// Composed from separate products and a softmax, every step writes a [Tq, Tk]
// block per entry that the next step reads back, and each product is split
// between the threads anew. Here one thread takes a whole batch entry and runs
// every step of it while the entry's [Tq, Tk] block is still in its cache (64 KiB
// at Tq = Tk = 128). The threads share out the entries, each running
// single-threaded products: one parallel region per pass instead of one per
// product, and the scaling rides on the first product's alpha.
#include <omp.h>

#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/attention.h"
#include "heed/ops/kernels/gemm.h"
#include "heed/ops/kernels/softmax.h"

namespace heed::kernels::fast {

namespace {

// Threads share out the entries when there are enough to go round. A batch
// smaller than the team (one long sequence, say) runs entry by entry instead,
// with gemm splitting each product between the threads.
bool share_entries(const AttentionDims& d) {
  const int64_t work = d.count * d.Tq * d.Tk * (d.D + d.Dv);
  return d.count > 1 && d.count >= omp_get_max_threads() && work >= kParallelGrain;
}

}  // namespace

template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W, T* out) {
  const int64_t block = d.Tq * d.Tk;
  // Entry e writes only its own blocks of P, W and out, so the threads never collide.
  parallel_for(d.count, share_entries(d), [&](int64_t e) {
    T* p = P + e * block;
    gemm(false, true, d.Tq, d.Tk, d.D, scale, q.at(e), q.ld, k.at(e), k.ld, T(0), p, d.Tk);
    masked_softmax(p, hidden, e, d.Tq, d.Tk,
                   [](T* x, T* y, int64_t rows, int64_t D) { softmax_rows(x, y, rows, D, false); });
    const T* w = p;
    if (drop) {
      T* we = W + e * block;
      const T* de = drop + e * block;
      for (int64_t i = 0; i < block; ++i) we[i] = p[i] * de[i];
      w = we;
    }
    gemm(false, false, d.Tq, d.Dv, d.Tk, T(1), w, d.Tk, v.at(e), v.ld, T(0), out + e * d.Tq * d.Dv, d.Dv);
  });
}

template <class T>
void attention_backward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                        const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv) {
  const int64_t block = d.Tq * d.Tk;
  const bool parallel = share_entries(d);
  // dS, one [Tq, Tk] block per thread, allocated here: a kernel runs its threads
  // on memory it was given, and allocates nothing inside the parallel region.
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<T> scratch(static_cast<size_t>(threads * block));
  // Entry e writes only its own rows of dq, dk and dv (and its thread's dS).
  parallel_for(d.count, parallel, [&](int64_t e) {
    T* dS = scratch.data() + (parallel ? omp_get_thread_num() : 0) * block;
    const T* p = P + e * block;
    const T* de = drop ? drop + e * block : nullptr;
    if (dout) {
      const T* g = dout->at(e);
      gemm(false, true, d.Tq, d.Tk, d.Dv, T(1), g, dout->ld, v.at(e), v.ld, T(0), dS, d.Tk);  // dW
      if (dv) gemm(true, false, d.Tk, d.Dv, d.Tq, T(1), de ? W + e * block : p, d.Tk, g, dout->ld, T(0), dv->at(e),
                   dv->ld);
      if (de)
        for (int64_t i = 0; i < block; ++i) dS[i] *= de[i];  // dP = dW * drop
      softmax_backward_rows(p, dS, dS, d.Tq, d.Tk, false);
    } else {
      const T* g = dweights->at(e);
      for (int64_t r = 0; r < d.Tq; ++r) {
        const T* dp = g + r * dweights->ld;  // dP's row r: the weights' gradient, times drop when dropping
        if (de) {
          for (int64_t j = 0; j < d.Tk; ++j) dS[r * d.Tk + j] = dp[j] * de[r * d.Tk + j];
          dp = dS + r * d.Tk;
        }
        softmax_backward_rows(p + r * d.Tk, dp, dS + r * d.Tk, 1, d.Tk, false);
      }
    }
    if (dq) gemm(false, false, d.Tq, d.D, d.Tk, scale, dS, d.Tk, k.at(e), k.ld, T(0), dq->at(e), dq->ld);
    if (dk) gemm(true, false, d.Tk, d.D, d.Tq, scale, dS, d.Tk, q.at(e), q.ld, T(0), dk->at(e), dk->ld);
  });
}

HEED_ATTENTION_KERNELS_FOR(float)
HEED_ATTENTION_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
