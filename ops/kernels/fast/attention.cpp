// Attention, fast: the same steps as the reference (reference/attention.cpp),
// arranged for the cache and the threads.
//
// Composed from separate products and a softmax, every step writes a [Tq, Tk]
// block per entry that the next step reads back, and each product is split
// between the threads anew. Here one thread takes a whole batch entry and runs
// every step of it while the entry's [Tq, Tk] block is still in its cache (64 KiB
// at Tq = Tk = 128). The threads share out the entries, each running
// single-threaded products: one parallel region per pass instead of one per
// product, and the scaling rides on the first product's alpha. With causal,
// the products of each block of query rows stop at the block's last key
// (row_blocks below), which skips about half of the work.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/attention.h"
#include "heed/ops/kernels/gemm.h"
#include "heed/ops/kernels/softmax.h"

namespace heed::kernels::fast {

namespace {

// Threads share out the entries when there are enough to go round the
// processors. A batch smaller than that (one long sequence, say) runs entry by
// entry instead, with gemm cutting each product between the threads.
//
// The choice follows processor_count(), not the thread count, so that the
// products an entry makes do not depend on the thread count either. Each goes
// through entry_gemm (gemm.h), as gemm_batch's do: one BLAS call when the
// entries are shared out, else cut by the processors. Either way 1, 2 or 16
// threads compute the same bits.
bool share_entries(const AttentionDims& d) {
  const int64_t work = d.count * d.Tq * d.Tk * (d.D + d.Dv);
  return d.count > 1 && d.count >= processor_count() && work >= kParallelGrain;
}

// Causal attention by blocks of query rows. Query i sees keys 0..i only, so the
// block of rows [r0, r0 + R) needs keys [0, r0 + R) and nothing after: every
// product of the block stops there, and over all blocks the work is about half
// of the full [Tq, Tk] (R / 2T more, for the keys a block shares with its
// diagonal). Smaller blocks skip more but make more, smaller products.
constexpr int64_t kCausalRows = 32;

// The row blocks of one entry: [r0, r0 + rows) with keys [0, cols). Without
// causal, one block of everything.
struct RowBlock {
  int64_t r0, rows, cols;
};
std::vector<RowBlock> row_blocks(const AttentionDims& d, bool causal) {
  if (!causal || d.Tq <= kCausalRows || d.Tk == 0) return {{0, d.Tq, d.Tk}};
  std::vector<RowBlock> blocks;
  for (int64_t r0 = 0; r0 < d.Tq; r0 += kCausalRows) {
    const int64_t rows = std::min(kCausalRows, d.Tq - r0);
    blocks.push_back({r0, rows, std::min(r0 + rows, d.Tk)});
  }
  return blocks;
}

// m [rows, cols] (rows ld apart) into mt [cols, rows] (rows `rows` apart), in
// tiles of 16 x 16 so that both the reads and the writes stay within a few
// cache lines at a time.
//
// Why the blocks of a causal entry want K^T and V^T: their products are small
// (32 query rows against at most Tk keys), and OpenBLAS's kernel for small
// products runs C = A B^T, the form q k^T and dout v^T take, at half the speed
// of C = A B (bench/RESULTS.md has the measurements). Transposed once per entry
// into the thread's scratch, k and v serve every block of the entry as B.
template <class T>
void transpose(const T* m, int64_t ld, int64_t rows, int64_t cols, T* mt) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) mt[c * rows + r] = m[r * ld + c];
    }
}

// Rows [from, to) of a matrix (width columns, rows ld apart) set to 0.
template <class T>
void zero_rows(T* m, int64_t ld, int64_t from, int64_t to, int64_t width) {
  for (int64_t r = from; r < to; ++r) std::fill(m + r * ld, m + r * ld + width, T(0));
}

}  // namespace

template <class T>
void attention_forward(const AttentionDims& d, T scale, const Matrices<const T>& q, const Matrices<const T>& k,
                       const Matrices<const T>& v, const Hidden<T>& hidden, const T* drop, T* P, T* W,
                       const Matrices<T>& out) {
  const int64_t block = d.Tq * d.Tk;
  const std::vector<RowBlock> blocks = row_blocks(d, hidden.causal);
  auto softmax = [](T* x, T* y, int64_t rows, int64_t D, int64_t ld) { softmax_rows(x, y, rows, D, ld, false); };
  const bool shared = share_entries(d);
  // k^T, one [D, Tk] block per thread when the entry comes in blocks of rows,
  // allocated here: a kernel runs its threads on memory it was given.
  const bool by_blocks = blocks.size() > 1;
  const int threads = shared ? omp_get_max_threads() : 1;
  std::vector<T> scratch(by_blocks ? static_cast<size_t>(threads * d.D * d.Tk) : 0);
  // Entry e writes only its own blocks of P, W and out (and its thread's k^T),
  // so the threads never collide.
  parallel_for(d.count, shared, [&](int64_t e) {
    T* p = P + e * block;
    T* w = drop ? W + e * block : p;
    // S = q k^T: with k as stored (B transposed), or as q (k^T), its first b.cols columns.
    const T* kb = k.at(e);
    int64_t ldk = k.ld;
    if (by_blocks) {
      T* kt = scratch.data() + (shared ? omp_get_thread_num() : 0) * d.D * d.Tk;
      transpose(kb, ldk, d.Tk, d.D, kt);
      kb = kt, ldk = d.Tk;
    }
    for (const RowBlock& b : blocks) {
      T* pb = p + b.r0 * d.Tk;  // the block's rows of S, then of P
      entry_gemm(shared, false, !by_blocks, b.rows, b.cols, d.D, scale, q.at(e) + b.r0 * q.ld, q.ld, kb, ldk, T(0),
                 pb, d.Tk);
      if (blocks.size() == 1) {
        masked_softmax(pb, hidden, e, d.Tq, d.Tk, softmax);
      } else {
        zero_rows(pb + b.cols, d.Tk, 0, b.rows, d.Tk - b.cols);  // the keys after the block's last query: P = 0
        masked_softmax(pb, d.Tk, hidden, e, b.r0, b.rows, b.cols, softmax);
      }
      T* wb = w + b.r0 * d.Tk;
      if (drop) {
        const T* db = drop + e * block + b.r0 * d.Tk;
        for (int64_t i = 0; i < b.rows * d.Tk; ++i) wb[i] = pb[i] * db[i];
      }
      entry_gemm(shared, false, false, b.rows, d.Dv, b.cols, T(1), wb, d.Tk, v.at(e), v.ld, T(0),
                 out.at(e) + b.r0 * out.ld, out.ld);
    }
  });
}

template <class T>
void attention_backward(const AttentionDims& d, T scale, bool causal, const Matrices<const T>& q,
                        const Matrices<const T>& k, const Matrices<const T>& v, const T* P, const T* drop, const T* W,
                        const Matrices<const T>* dout, const Matrices<const T>* dweights, const Matrices<T>* dq,
                        const Matrices<T>* dk, const Matrices<T>* dv, bool add_dk, bool add_dv) {
  const int64_t block = d.Tq * d.Tk;
  const bool parallel = share_entries(d);
  // The blocks are walked last first: the last one reaches the most keys, so it
  // writes dk's and dv's rows with beta = 0 (1 when adding to a sum) and the
  // earlier blocks add to them.
  const std::vector<RowBlock> blocks = row_blocks(d, causal);
  const int64_t reached = blocks.back().cols;  // keys after it are hidden from every query: dk, dv = 0 there
  // dS, one [Tq, Tk] block per thread, allocated here: a kernel runs its threads
  // on memory it was given, and allocates nothing inside the parallel region.
  // With blocks of rows, v^T too ([Dv, Tk], for dW = dout v^T; see transpose()).
  const bool by_blocks = blocks.size() > 1 && dout;
  const int64_t per_thread = block + (by_blocks ? d.Dv * d.Tk : 0);
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<T> scratch(static_cast<size_t>(threads * per_thread));
  // Entry e writes only its own rows of dq, dk and dv (and its thread's dS and v^T).
  parallel_for(d.count, parallel, [&](int64_t e) {
    T* dS = scratch.data() + (parallel ? omp_get_thread_num() : 0) * per_thread;
    // dW = dout v^T: with v as stored (B transposed), or as dout (v^T).
    const T* vb = v.at(e);
    int64_t ldv = v.ld;
    if (by_blocks) {
      transpose(vb, ldv, d.Tk, d.Dv, dS + block);
      vb = dS + block, ldv = d.Tk;
    }
    const T* p = P + e * block;
    const T* w = drop ? W + e * block : p;
    const T* de = drop ? drop + e * block : nullptr;
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
      const RowBlock& b = *it;
      const bool first = it == blocks.rbegin();
      const T beta_k = first && !add_dk ? T(0) : T(1), beta_v = first && !add_dv ? T(0) : T(1);
      T* ds = dS + b.r0 * d.Tk;  // the block's rows of dW, then dP, then dS
      const T* pb = p + b.r0 * d.Tk;
      if (dout) {
        const T* g = dout->at(e) + b.r0 * dout->ld;
        entry_gemm(parallel, false, !by_blocks, b.rows, b.cols, d.Dv, T(1), g, dout->ld, vb, ldv, T(0), ds,
                   d.Tk);  // dW
        if (dv)
          entry_gemm(parallel, true, false, b.cols, d.Dv, b.rows, T(1), w + b.r0 * d.Tk, d.Tk, g, dout->ld, beta_v,
                     dv->at(e), dv->ld);
        if (de)
          for (int64_t r = 0; r < b.rows; ++r)
            for (int64_t j = 0; j < b.cols; ++j) ds[r * d.Tk + j] *= de[(b.r0 + r) * d.Tk + j];  // dP = dW * drop
      } else {
        for (int64_t r = 0; r < b.rows; ++r) {
          const T* dp = dweights->at(e) + (b.r0 + r) * dweights->ld;  // the weights' own gradient
          for (int64_t j = 0; j < b.cols; ++j) ds[r * d.Tk + j] = de ? dp[j] * de[(b.r0 + r) * d.Tk + j] : dp[j];
        }
      }
      softmax_backward_rows(pb, ds, ds, b.rows, b.cols, d.Tk, false);
      if (dq)
        entry_gemm(parallel, false, false, b.rows, d.D, b.cols, scale, ds, d.Tk, k.at(e), k.ld, T(0),
                   dq->at(e) + b.r0 * dq->ld, dq->ld);
      if (dk)
        entry_gemm(parallel, true, false, b.cols, d.D, b.rows, scale, ds, d.Tk, q.at(e) + b.r0 * q.ld, q.ld, beta_k,
                   dk->at(e), dk->ld);
    }
    if (dk && !add_dk) zero_rows(dk->at(e), dk->ld, reached, d.Tk, d.D);
    if (dv && dout && !add_dv) zero_rows(dv->at(e), dv->ld, reached, d.Tk, d.Dv);
  });
}

HEED_ATTENTION_KERNELS_FOR(float)
HEED_ATTENTION_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
