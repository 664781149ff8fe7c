// Tensor: heed's n-dimensional array and the handle autograd hangs off.
//
// A Tensor is a cheap handle, like torch::Tensor: copying one aliases the same
// data. Everything about the array lives in a TensorImpl shared by the copies:
//
//   Tensor a = Tensor::randn({2, 3});
//   Tensor b = a;            // same impl, same storage: b.data_ptr() == a.data_ptr()
//   Tensor t = a.t();        // a view: its own impl (strides swapped), the same storage
//
// Element (i, j, k) of a tensor lives at storage[offset + i*strides[0] + j*strides[1] + k*strides[2]],
// so transpose, permute, slice, select, expand and reshape-of-contiguous are views:
// they build a new shape/strides/offset over the same storage and copy nothing.
//
// Autograd: a tensor made by an op while grad mode is on and an input requires
// grad gets a grad_fn, the graph node that knows how to send its gradient back
// to the inputs (autograd/node.h). Leaves (made by factories) have none; set
// requires_grad_() on a leaf and backward() accumulates into its grad().
//
// The methods, by layer. Core defines what a tensor is and how its elements are
// reached. The rest are declared here, so that a user writes x.sum() and
// loss.backward() as in PyTorch, but each is defined in the layer that owns it:
// the autograd methods in autograd/tensor_methods.cpp, the math, views, copies
// and in-place writes in ops/ (ops/tensor_methods.cpp and ops/inplace.cpp).
// Core's own code never calls them: the layering test proves it
// (tests/layering/check_layers.sh).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "heed/core/autograd_meta.h"
#include "heed/core/dtype.h"
#include "heed/core/error.h"
#include "heed/core/shape.h"
#include "heed/core/storage.h"

namespace heed {

class Node;  // autograd/node.h
class Generator;  // core/random.h
Generator& default_generator();
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;       // in elements, not bytes; 0 for a dim made by expand
  int64_t offset = 0;    // in elements
  DType dtype = kFloat32;

  // Autograd's state, behind the interface core owns (core/autograd_meta.h):
  // null, the Node of the op that made this tensor, or a leaf's LeafState.
  std::shared_ptr<AutogradMeta> autograd;
};

// Nested lists of numbers, so a tensor can be written as a literal:
//   Tensor x({{1, 2, 3}, {4, 5, 6}});   // shape [2, 3]
// Each level must be a rectangular list; Tensor's constructor checks it.
struct NestedValues {
  NestedValues(double v) : value(v), is_scalar(true) {}
  NestedValues(std::initializer_list<NestedValues> l) : items(l) {}
  double value = 0;
  bool is_scalar = false;
  std::vector<NestedValues> items;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false (like an empty optional)
  Tensor(std::initializer_list<NestedValues> values, DType dtype = kFloat32);
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (core/factories.cpp) -----------------------------------
  static Tensor empty(const Shape& shape, DType dtype = kFloat32);  // uninitialized
  static Tensor zeros(const Shape& shape, DType dtype = kFloat32);
  static Tensor ones(const Shape& shape, DType dtype = kFloat32);
  static Tensor full(const Shape& shape, double value, DType dtype = kFloat32);
  static Tensor scalar(double value, DType dtype = kFloat32);  // 0-d
  static Tensor arange(double end, DType dtype = kFloat32);
  static Tensor arange(double start, double end, double step = 1, DType dtype = kFloat32);
  static Tensor linspace(double start, double end, int64_t steps, DType dtype = kFloat32);
  static Tensor eye(int64_t n, DType dtype = kFloat32);
  // Random factories draw from `gen`, by default the global generator
  // (core/random.h: manual_seed).
  static Tensor rand(const Shape& shape, DType dtype = kFloat32,
                     Generator& gen = default_generator());  // uniform [0, 1)
  static Tensor randn(const Shape& shape, DType dtype = kFloat32,
                      Generator& gen = default_generator());  // standard normal
  static Tensor randint(int64_t low, int64_t high, const Shape& shape,
                        Generator& gen = default_generator());  // int64 in [low, high)
  static Tensor randperm(int64_t n, Generator& gen = default_generator());  // int64, a shuffle of 0..n-1
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape);
  static Tensor from_vector(const std::vector<double>& v, const Shape& shape);
  static Tensor from_vector(const std::vector<int64_t>& v, const Shape& shape);
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
  static Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }

  // ---- what it is ---------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t size(int64_t dim) const {  // negative dims count from the end
    // Inline: ops ask for sizes constantly, and this is two compares and a load.
    const Shape& s = impl().shape;
    const int64_t n = static_cast<int64_t>(s.size());
    if (dim >= 0 && dim < n) return s[static_cast<size_t>(dim)];
    if (dim < 0 && dim >= -n) return s[static_cast<size_t>(dim + n)];
    return bad_size(dim);
  }
  const Strides& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const { return heed::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  // True when both handles look at the same memory block (a view and its base do).
  bool shares_storage(const Tensor& other) const;
  uint64_t version() const { return impl().storage->version(); }

  // ---- element access -----------------------------------------------------
  // Pointer to element 0 (offset applied). T must match dtype(): a DTypeError otherwise.
  template <class T> T* data_ptr();
  template <class T> const T* data_ptr() const;
  void* raw_data_ptr();
  const void* raw_data_ptr() const;
  double item() const;                              // the one element of a 1-element tensor
  template <class T> T item() const { return static_cast<T>(item()); }
  double at(const std::vector<int64_t>& index) const;  // bounds-checked; negative indices count from the end
  template <class T = float> std::vector<T> to_vector() const;  // row-major copy, converted to T

  // ---- autograd (autograd/tensor_methods.cpp, but the first two) ------------
  // A leaf that asked for it, or any tensor made by an op from one.
  bool requires_grad() const {
    const AutogradMeta* m = impl().autograd.get();
    return m && m->requires_grad();
  }
  bool is_leaf() const {  // not made by an op (factories, detach(), parameters)
    const AutogradMeta* m = impl().autograd.get();
    return !m || !m->made_by_op();
  }
  Tensor& requires_grad_(bool on = true);  // leaves only, floating dtypes only
  Tensor grad() const;                 // undefined until backward() writes it (on leaves only)
  void set_grad(const Tensor& g);      // leaves only: optimizers and tests; g must have this shape and dtype
  void zero_grad();                    // drops grad; the next backward() writes a fresh one
  std::shared_ptr<Node> grad_fn() const;  // the op that made this tensor; null on a leaf
  // Runs reverse-mode autodiff from this tensor (autograd/engine.h). A scalar
  // needs no grad argument (it is 1); any other shape needs one of its shape.
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no autograd state: a new leaf that requires no grad
  // Gradient hooks (autograd/hooks.h): hook(grad) sees the total gradient with
  // respect to this tensor during backward(), before it goes on into grad_fn (or,
  // on a leaf, into grad()). Return an undefined Tensor to keep the gradient, or a
  // replacement of this tensor's shape and dtype. Returns an id for remove_hook().
  // The hook must not capture this tensor: the tensor would own itself (a cycle).
  int register_hook(std::function<Tensor(const Tensor& grad)> hook) const;
  // On a leaf that requires grad: hook(leaf) runs each time backward() has added
  // this backward's whole gradient into leaf.grad(), so leaf.grad() is final for
  // this backward (PyTorch's register_post_accumulate_grad_hook). What
  // DistributedDataParallel starts its all-reduces from. Also removed by remove_hook().
  int register_post_accumulate_grad_hook(std::function<void(const Tensor& leaf)> hook) const;
  void remove_hook(int id) const;  // a ValueError if this tensor has no hook with that id

  // ---- copies and conversions (ops/tensor_methods.cpp) ----------------------
  Tensor clone() const;             // a fresh contiguous copy, differentiable
  Tensor contiguous() const;        // this tensor if already contiguous, else a copy
  Tensor to(DType dtype) const;     // this tensor if dtype matches, else a converted copy

  // ---- views (ops/tensor_methods.cpp); they share storage with this tensor --
  Tensor reshape(const Shape& shape) const;   // a view when possible, else a copy; one size may be -1
  Tensor view(const Shape& shape) const;      // like reshape but never copies (ShapeError instead)
  Tensor flatten() const { return reshape({-1}); }
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;                           // transpose of a 2-D tensor
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor squeeze() const;                     // removes every size-1 dim
  Tensor squeeze(int64_t dim) const;          // removes dim if its size is 1
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;    // size-1 dims repeat with stride 0; -1 keeps a size
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes dim
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const {
    return slice(dim, start, start + length);
  }

  // ---- common math as methods, for PyTorch's x.sum() style (ops/tensor_methods.cpp) ----
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  // variance with Bessel's correction by default (correction 1), as torch.var
  Tensor var() const;
  Tensor var(const std::vector<int64_t>& dims, bool keepdim = false, int64_t correction = 1) const;
  Tensor max() const;
  Tensor max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  Tensor min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor pow(double exponent) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor abs() const;  // the elementwise functions, as in PyTorch's x.abs()
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;

  // ---- in-place writes (ops/inplace.cpp) --------------------------------------
  // Each bumps the version counter. On a tensor that requires grad they need grad
  // mode off (NoGradGuard): autograd does not record them, so with grad mode on
  // they would silently break the gradient. Optimizers update under NoGradGuard.
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0); }
  Tensor& copy_(const Tensor& src);                        // src broadcasts to this shape
  Tensor& add_(const Tensor& other, double alpha = 1.0);   // this += alpha * other
  Tensor& mul_(double factor);
  // Random values drawn into this tensor, element by element in row-major order
  // (the order Tensor::rand / randn fill a new tensor, so from the same generator
  // state x.normal_() equals randn(x.shape())); floating dtypes only.
  Tensor& uniform_(double from = 0, double to = 1, Generator& gen = default_generator());  // U(from, to)
  Tensor& normal_(double mean = 0, double std = 1, Generator& gen = default_generator());  // N(mean, std^2)

  TensorImpl& impl() const {  // the shared state; throws if undefined
    if (!impl_) [[unlikely]] throw_undefined();
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  [[noreturn]] static void throw_undefined();
  [[noreturn]] int64_t bad_size(int64_t dim) const;  // the error for size(dim) out of range
  std::shared_ptr<TensorImpl> impl_;
};

// Prints like PyTorch: tensor([[ 0.1000, -2.0000], ...], dtype=float64, grad_fn=<tanh>)
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// Builds a fresh contiguous tensor over new storage (the factories and every
// kernel's output start here). zero_fill=false when the caller writes every element.
Tensor make_tensor(const Shape& shape, DType dtype, bool zero_fill = true);
// A view of t's storage with the given geometry (the shape ops use it).
Tensor make_view(const Tensor& t, Shape shape, Strides strides, int64_t offset);

// ---- template definitions -------------------------------------------------

template <class T>
T* Tensor::data_ptr() {
  if (dtype() != dtype_of<T>())
    throw DTypeError(msg("data_ptr: tensor has dtype ", dtype(), ", asked for ", dtype_of<T>()));
  return static_cast<T*>(impl().storage->data()) + impl().offset;
}
template <class T>
const T* Tensor::data_ptr() const {
  return const_cast<Tensor*>(this)->data_ptr<T>();
}

}  // namespace heed
