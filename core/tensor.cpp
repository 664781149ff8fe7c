#include "heed/core/tensor.h"

#include "heed/core/copy.h"
#include "heed/core/iterate.h"
#include "heed/core/object_pool.h"

namespace heed {

Tensor make_tensor(const Shape& shape, DType dtype, bool zero_fill) {
  check_sizes("tensor", shape);
  // Both from per-thread pools (core/object_pool.h): every op makes a pair.
  auto impl = std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>());
  impl->storage = std::allocate_shared<Storage>(PoolAllocator<Storage>(), numel(shape) * element_size(dtype),
                                                zero_fill);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& t, Shape shape, Strides strides, int64_t offset) {
  auto impl = std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>());
  impl->storage = t.impl().storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

// ---- literals ----------------------------------------------------------------

namespace {
// The shape a nested list claims: the length of the first list at each level,
// following first items down until a number.
Shape nested_shape(const NestedValues& v) {
  Shape shape;
  for (const NestedValues* p = &v; !p->is_scalar; p = &p->items[0]) {
    shape.push_back(static_cast<int64_t>(p->items.size()));
    if (p->items.empty()) break;
  }
  return shape;
}

// Checks that the whole list has that shape: every list at depth d has shape[d]
// items, and every number sits at depth shape.size(). (Comparing only the total
// count is not enough: {1, {2}} has two numbers, like a [2, 1] tensor, but is ragged.)
void check_rectangular(const NestedValues& v, size_t depth, const Shape& shape) {
  if (v.is_scalar) {
    if (depth != shape.size())
      throw ShapeError(msg("Tensor: nested list is ragged: a number at depth ", depth,
                           " where the first items make a shape of ", shape.size(), " dims ", shape));
    return;
  }
  if (depth == shape.size())
    throw ShapeError(msg("Tensor: nested list is ragged: a list at depth ", depth,
                         " where the first items have numbers (shape ", shape, ")"));
  if (static_cast<int64_t>(v.items.size()) != shape[depth])
    throw ShapeError(msg("Tensor: nested list is ragged: a list of ", v.items.size(),
                         " items at depth ", depth, " where the first has ", shape[depth],
                         " (shape ", shape, ")"));
  for (const NestedValues& item : v.items) check_rectangular(item, depth + 1, shape);
}

void nested_flatten(const NestedValues& v, std::vector<double>& out) {
  if (v.is_scalar) {
    out.push_back(v.value);
    return;
  }
  for (const NestedValues& item : v.items) nested_flatten(item, out);
}
}  // namespace

Tensor::Tensor(std::initializer_list<NestedValues> list, DType dtype) {
  NestedValues values(list);
  Shape shape = nested_shape(values);
  check_rectangular(values, 0, shape);
  std::vector<double> flat;
  nested_flatten(values, flat);
  Tensor t = make_tensor(shape, dtype, /*zero_fill=*/false);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    for (size_t i = 0; i < flat.size(); ++i) p[i] = element_value<T>(flat[i], "Tensor");
  });
  impl_ = t.impl_;
}

// ---- what it is --------------------------------------------------------------

void Tensor::throw_undefined() {
  throw ValueError("Tensor: this tensor is undefined (default-constructed or an absent grad)");
}

int64_t Tensor::bad_size(int64_t d) const {
  // wrap_dim accepts dim 0 of a 0-d tensor (for ops like sum), but there is no size to return.
  if (dim() == 0) throw IndexError(msg("size: a 0-d tensor has no dims, so it has no size(", d, ")"));
  wrap_dim("size", d, dim());  // throws: size() only calls this for a dim out of range
  throw IndexError(msg("size: dim ", d, " is out of range"));  // not reached
}

bool Tensor::is_contiguous() const {
  // Size-1 dims may have any stride: no step is ever taken along them.
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

bool Tensor::shares_storage(const Tensor& other) const {
  return impl().storage == other.impl().storage;
}

// ---- element access ----------------------------------------------------------

void* Tensor::raw_data_ptr() {
  return static_cast<char*>(impl().storage->data()) + offset() * element_size(dtype());
}
const void* Tensor::raw_data_ptr() const { return const_cast<Tensor*>(this)->raw_data_ptr(); }

double Tensor::at(const std::vector<int64_t>& index) const {
  if (static_cast<int64_t>(index.size()) != dim())
    throw IndexError(msg("at: ", index.size(), " indices given for a tensor of shape ", shape(),
                         "; give one per dim"));
  int64_t pos = offset();
  for (int64_t d = 0; d < dim(); ++d) {
    int64_t i = index[d], n = shape()[d];
    if (i < -n || i >= n)
      throw IndexError(msg("at: index ", i, " is out of range for dim ", d, " of size ", n,
                           " (shape ", shape(), ")"));
    pos += (i < 0 ? i + n : i) * strides()[d];
  }
  return dispatch(dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(static_cast<const T*>(impl().storage->data())[pos]);
  });
}

double Tensor::item() const {
  if (numel() != 1)
    throw ValueError(msg("item: tensor has shape ", shape(), " (", numel(),
                         " elements); item() needs exactly one"));
  return at(std::vector<int64_t>(dim(), 0));
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  // float -> int64 goes through copy's check: not every float has an int64 value.
  if (std::is_same_v<T, int64_t> && is_floating(dtype())) return copy_of(*this, kInt64).to_vector<T>();
  std::vector<T> out(numel());
  dispatch(dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* src = data_ptr<S>();
    // Walk this tensor's strides and a contiguous destination side by side.
    Strides dst = contiguous_strides(shape());
    for_each_offset<2>(shape(), {&strides(), &dst},
                       [&](int64_t i, int64_t o) { out[o] = static_cast<T>(src[i]); });
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

// ---- autograd -------------------------------------------------------------------

// A view with no autograd state: the new tensor is a leaf that requires no grad.
Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

}  // namespace heed
