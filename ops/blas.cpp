// gemm over strided tensors: the layout rules of ops/blas.h, applied in one
// place, turning tensors into the gemm kernel's arguments (ops/kernels/gemm.h).
#include "heed/ops/blas.h"

#include <algorithm>
#include <optional>

#include "heed/core/profile_scope.h"
#include "heed/ops/kernels/gemm.h"
#include "heed/ops/map.h"

namespace heed {

namespace {

// How BLAS can read an [R, C] matrix in place, if it can.
struct Layout {
  bool transposed;  // stored as the row-major transpose [C, R]
  int64_t ld;       // the leading dimension: the step from one stored row to the next
};

// A matrix as the product sees it: where element (0, 0) is, its size, and its
// strides (in elements). Transposing one only swaps numbers: no view, no copy.
struct Matrix {
  const void* data;
  int64_t rows, cols, s0, s1;
  Matrix t() const { return {data, cols, rows, s1, s0}; }
};

// The last two dims of m.
Matrix matrix_of(const Tensor& m) {
  const int64_t n = m.dim();
  return {m.raw_data_ptr(), m.size(-2), m.size(-1), m.strides()[n - 2], m.strides()[n - 1]};
}

std::optional<Layout> layout_of(const Matrix& m) {
  // A size-1 dim is never stepped along, so its stride does not matter: each
  // test accepts size 1 in place of the stride it wants. BLAS requires ld >= 1
  // and ld >= the stored row length (rows must not overlap), which also rules
  // out expand()'s stride 0 along a dim of size > 1.
  const int64_t min_ld_plain = std::max<int64_t>(m.cols, 1), min_ld_trans = std::max<int64_t>(m.rows, 1);
  // Row-major: element (i, j) at i*ld + j.
  if ((m.s1 == 1 || m.cols == 1) && (m.rows == 1 || m.s0 >= min_ld_plain))
    return Layout{false, m.rows == 1 ? min_ld_plain : m.s0};
  // The transpose of a row-major [C, R] matrix: element (i, j) at j*ld + i.
  if ((m.s0 == 1 || m.rows == 1) && (m.cols == 1 || m.s1 >= min_ld_trans))
    return Layout{true, m.cols == 1 ? min_ld_trans : m.s1};
  return std::nullopt;
}

// One operand as BLAS reads it: in place when its layout allows, else from a
// contiguous copy of `source` (the tensor m was taken from, transposed when m
// is its transpose), which `copy` keeps alive. No handle is copied in the
// common, in-place case.
struct Operand {
  const void* data;
  bool transposed;
  int64_t ld;
  Tensor copy;
};

Operand operand(const Matrix& m, const Tensor& source, bool source_transposed) {
  if (auto l = layout_of(m)) return {m.data, l->transposed, l->ld, Tensor()};
  Tensor c = copy_of(source);  // a kernel's scratch copy: no graph
  // c is row-major; BLAS reads it as it is, or with the transpose flag for m = c^T.
  return {c.raw_data_ptr(), source_transposed, std::max<int64_t>(c.size(-1), 1), c};
}

void check_operands(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dim() != 2 || b.dim() != 2 || out.dim() != 2)
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), ", out is ", out.shape(),
                         "; all three must be 2-D"));
  check_floating("gemm", a);
  check_same_dtype("gemm", a, b);
  check_same_dtype("gemm", a, out);
  if (a.size(1) != b.size(0))
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), "; a's last dim (",
                         a.size(1), ") must equal b's first (", b.size(0), ")"));
  if (out.size(0) != a.size(0) || out.size(1) != b.size(1))
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), ", so out must be [",
                         a.size(0), ", ", b.size(1), "], but it is ", out.shape()));
}

// out = alpha a b + beta out as the kernel's arguments, with the operand copies
// (if any) kept alive. out must be a layout BLAS writes: row-major, or stored
// transposed, which is computed through C^T = B^T A^T into out^T (row-major).
// Anything else: false (gemm then goes through a scratch matrix).
template <class T>
struct Product {
  kernels::GemmArgs<T> args;
  Operand a, b;
};

template <class T>
bool resolve(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta, Product<T>& p) {
  Matrix ma = matrix_of(a), mb = matrix_of(b), mc = matrix_of(out);
  std::optional<Layout> lc = layout_of(mc);
  if (!lc) return false;
  const bool swap = lc->transposed;  // C^T = B^T A^T: the product of the transposes, swapped
  if (swap) {
    mc = mc.t();
    lc = layout_of(mc);
    std::swap(ma, mb);
    ma = ma.t();
    mb = mb.t();
  }
  p.a = operand(ma, swap ? b : a, swap);
  p.b = operand(mb, swap ? a : b, swap);
  p.args = {p.a.transposed, p.b.transposed, mc.rows, mc.cols, ma.cols, static_cast<T>(alpha),
            static_cast<const T*>(p.a.data), p.a.ld, static_cast<const T*>(p.b.data), p.b.ld, static_cast<T>(beta),
            static_cast<T*>(const_cast<void*>(mc.data)), lc->ld};
  return true;
}

// A product of [M, K] and [K, N]: a multiply and an add for each of M N K terms.
int64_t product_flops(int64_t M, int64_t N, int64_t K) { return 2 * M * N * K; }

template <class T>
void run(const kernels::GemmArgs<T>& g) {
  profiler::add_flops(product_flops(g.M, g.N, g.K));
  kernels::gemm(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
}

}  // namespace

bool blas_can_read(const Tensor& t) { return t.dim() >= 2 && layout_of(matrix_of(t)).has_value(); }

std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), lead = nb - (t.dim() - 2);
  Strides step(nb, 0);
  for (int64_t d = lead; d < nb; ++d)
    if (t.shape()[d - lead] != 1) step[d] = t.strides()[d - lead];
  std::vector<int64_t> offsets(numel(batch));
  std::vector<int64_t> index(nb, 0);
  int64_t off = t.offset();
  for (int64_t& o : offsets) {  // an odometer over the batch index, last dim fastest
    o = off;
    for (int64_t d = nb - 1; d >= 0; --d) {
      off += step[d];
      if (++index[d] < batch[d]) break;
      off -= step[d] * batch[d];
      index[d] = 0;
    }
  }
  return offsets;
}

void gemm(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) {
  check_operands(a, b, out);
  if (out.numel() == 0) return;  // nothing to write
  dispatch_floating(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (Product<T> p; resolve(a, b, out, alpha, beta, p)) return run(p.args);
    // An out BLAS cannot write in place: compute into a contiguous scratch matrix.
    Tensor scratch = beta == 0 ? make_tensor(out.shape(), out.dtype(), false) : copy_of(out);
    gemm(a, b, scratch, alpha, beta);
    copy_elements(out, scratch);
  });
}

void gemm_pair(const Tensor& a1, const Tensor& b1, const Tensor& out1, const Tensor& a2, const Tensor& b2,
               const Tensor& out2, double beta1, double beta2) {
  check_operands(a1, b1, out1);
  check_operands(a2, b2, out2);
  check_same_dtype("gemm_pair", out1, out2);
  dispatch_floating(out1.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Product<T> p1, p2;
    if (out1.numel() > 0 && out2.numel() > 0 && resolve(a1, b1, out1, 1.0, beta1, p1) &&
        resolve(a2, b2, out2, 1.0, beta2, p2)) {
      profiler::add_flops(product_flops(p1.args.M, p1.args.N, p1.args.K) + product_flops(p2.args.M, p2.args.N, p2.args.K));
      return kernels::gemm_pair(p1.args, p2.args);
    }
    gemm(a1, b1, out1, 1.0, beta1);
    gemm(a2, b2, out2, 1.0, beta2);
  });
}

void gemm_batch(const Tensor& a, const Tensor& b, const Shape& batch, const Tensor& out) {
  const std::optional<Layout> la = layout_of(matrix_of(a)), lb = layout_of(matrix_of(b));
  const std::vector<int64_t> off_a = batch_offsets(a, batch), off_b = batch_offsets(b, batch);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  dispatch_floating(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // The offsets count from the start of each storage; so do these pointers.
    const T* pa = a.data_ptr<T>() - a.offset();
    const T* pb = b.data_ptr<T>() - b.offset();
    const kernels::GemmArgs<T> layout{la->transposed, lb->transposed, M, N, K, T(1), pa, la->ld, pb, lb->ld, T(0),
                                      static_cast<T*>(const_cast<void*>(out.raw_data_ptr())), N};
    profiler::add_flops(numel(batch) * product_flops(M, N, K));
    kernels::gemm_batch(layout, numel(batch), off_a.data(), off_b.data());
  });
}

int blas_threads() { return kernels::gemm_threads(); }
std::string blas_info() { return kernels::gemm_library(); }

}  // namespace heed
