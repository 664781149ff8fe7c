// Chapter 1: a tensor is a storage plus shape, strides and offset; a view is a
// new shape, strides and offset over the same storage, so it copies nothing.
#include "check.h"

using namespace heed;
using tour::check;

int main() {
  // [strides]
  Tensor a = Tensor::arange(6).reshape({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  check(a.strides() == Strides{3, 1}, "a [2, 3] tensor has strides (3, 1): the next row is 3 elements on");
  const float* data = a.data_ptr<float>();  // element 0 of the storage (offset 0)
  check(a.at({1, 2}) == data[1 * 3 + 2 * 1], "a[1, 2] lives at storage[offset + 1*3 + 2*1]");
  // [end strides]

  // [transpose]
  Tensor t = a.t();  // [3, 2]
  check(t.shape() == Shape{3, 2} && t.strides() == Strides{1, 3}, "t() swaps the sizes and the strides");
  check(t.shares_storage(a) && t.data_ptr<float>() == data, "t() copies nothing: same storage, same first element");
  check(t.at({2, 1}) == a.at({1, 2}), "t[j, i] is a[i, j]");
  check(!t.is_contiguous(), "t is not contiguous: its rows are not laid out one after another");
  // [end transpose]

  // [select_slice]
  Tensor row = a.select(0, 1);  // [3, 4, 5]
  Tensor col = a.select(1, 2);  // [2, 5]
  check(row.offset() == 3 && row.strides() == Strides{1}, "select(0, 1) moves the offset to 3 and drops a dim");
  check(col.offset() == 2 && col.strides() == Strides{3}, "select(1, 2) is a column: offset 2, stride 3");
  Tensor evens = Tensor::arange(10).slice(0, 0, 10, 2);  // [0, 2, 4, 6, 8]
  check(evens.numel() == 5 && evens.strides() == Strides{2}, "a slice with step 2 has stride 2");
  col.fill_(-1);  // an in-place write through the view ...
  check(a.at({0, 2}) == -1 && a.at({1, 2}) == -1, "... lands in a: they are the same memory");
  // [end select_slice]

  // [copies]
  check(a.reshape({3, 2}).shares_storage(a), "reshape of a contiguous tensor is a view");
  Tensor flat = t.reshape({6});  // t's rows sit at storage positions 0 3 1 4 2 5: no single stride walks that
  check(!flat.shares_storage(a), "reshape of a transpose has to copy");
  check(t.contiguous().strides() == Strides{2, 1}, "contiguous() copies into row-major order");
  check(tour::throws<ShapeError>([&] { t.view({6}); }, "cannot be viewed as [6]"),
        "view() never copies: it refuses, and says why");
  check(t.view({3, 1, 2}).shares_storage(a), "but a transpose can be split, or given dims of 1, as a view");
  // [end copies]
  return tour::failures();
}
