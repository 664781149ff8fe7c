// DimVector: a list of int64_t with room for six of them inside the object.
//
// Every tensor carries a shape and strides, every op builds a few more (the
// output's shape, a broadcast shape, a view's strides), and every autograd node
// remembers the shapes of its inputs. As std::vector each of those is a heap
// allocation, and in a small model's training step, whose arithmetic is a few
// hundred operations, the allocations cost more than the arithmetic. Almost no tensor
// has more than six dims, so the sizes live inline and only a rare 7-D or
// larger list goes to the heap. (PyTorch keeps its sizes the same way.)
//
// It has the part of std::vector's interface heed uses, with the same meaning:
//
//   DimVector s{2, 3, 4};     // inline: no allocation
//   s.push_back(5);           // still inline
//   s.insert(s.begin(), 1);   // [1, 2, 3, 4, 5]
//
// Only for int64_t: the elements are plain numbers, so copying is memcpy and
// there are no destructors to run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace heed {

class DimVector {
 public:
  using value_type = int64_t;
  using size_type = size_t;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;
  static constexpr size_t kInline = 6;

  DimVector() = default;
  explicit DimVector(size_t n, int64_t value = 0) { assign(n, value); }
  DimVector(std::initializer_list<int64_t> l) { assign(l.begin(), l.end()); }
  template <std::input_iterator It>
  DimVector(It first, It last) { assign(first, last); }
  DimVector(const std::vector<int64_t>& v) { assign(v.begin(), v.end()); }  // implicit, like a vector copy

  DimVector(const DimVector& o) { copy_from(o); }
  DimVector(DimVector&& o) noexcept { take(o); }
  DimVector& operator=(const DimVector& o) {
    if (this != &o) copy_from(o);
    return *this;
  }
  DimVector& operator=(DimVector&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~DimVector() { release(); }

  // ---- reading ---------------------------------------------------------------
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  int64_t* data() { return data_; }
  const int64_t* data() const { return data_; }
  int64_t& operator[](size_t i) { return data_[i]; }
  const int64_t& operator[](size_t i) const { return data_[i]; }
  int64_t& front() { return data_[0]; }
  const int64_t& front() const { return data_[0]; }
  int64_t& back() { return data_[size_ - 1]; }
  const int64_t& back() const { return data_[size_ - 1]; }
  iterator begin() { return data_; }
  iterator end() { return data_ + size_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const DimVector& a, const DimVector& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator<(const DimVector& a, const DimVector& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }

  // ---- writing ---------------------------------------------------------------
  void reserve(size_t n) {
    if (n <= capacity_) return;
    // Grow geometrically, as std::vector does, so push_back stays O(1) amortized.
    size_t cap = std::max<size_t>(n, 2 * size_t{capacity_});
    int64_t* heap = new int64_t[cap];
    std::memcpy(heap, data_, size_ * sizeof(int64_t));
    release();
    data_ = heap;
    capacity_ = static_cast<uint32_t>(cap);
  }
  void resize(size_t n, int64_t value = 0) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) data_[i] = value;
    size_ = static_cast<uint32_t>(n);
  }
  void clear() { size_ = 0; }
  void push_back(int64_t v) {
    if (size_ == capacity_) reserve(size_ + 1);
    data_[size_++] = v;
  }
  void pop_back() { --size_; }
  void assign(size_t n, int64_t value) {
    size_ = 0;
    resize(n, value);
  }
  template <std::input_iterator It>
  void assign(It first, It last) {
    size_ = 0;
    for (; first != last; ++first) push_back(*first);
  }
  iterator insert(const_iterator pos, int64_t v) { return insert(pos, &v, &v + 1); }
  iterator insert(const_iterator pos, std::initializer_list<int64_t> l) {
    return insert(pos, l.begin(), l.end());
  }
  template <std::input_iterator It>
  iterator insert(const_iterator pos, It first, It last) {
    // Copy the new elements out first: they may point into this vector.
    const DimVector added(first, last);
    const size_t at = static_cast<size_t>(pos - data_), n = added.size();
    reserve(size_ + n);
    std::memmove(data_ + at + n, data_ + at, (size_ - at) * sizeof(int64_t));
    std::memcpy(data_ + at, added.data_, n * sizeof(int64_t));
    size_ += static_cast<uint32_t>(n);
    return data_ + at;
  }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
  iterator erase(const_iterator first, const_iterator last) {
    const size_t at = static_cast<size_t>(first - data_), n = static_cast<size_t>(last - first);
    std::memmove(data_ + at, data_ + at + n, (size_ - at - n) * sizeof(int64_t));
    size_ -= static_cast<uint32_t>(n);
    return data_ + at;
  }

 private:
  bool on_heap() const { return data_ != inline_; }
  void release() {
    if (on_heap()) delete[] data_;
    data_ = inline_;
    capacity_ = kInline;
  }
  // Copies o's elements. Shapes are copied all the time (every view, every node's
  // record of its inputs), so a list that fits inline is copied as the whole
  // inline block: a fixed-size copy the compiler does in a few moves, where a
  // copy of size_ elements would be a call to memcpy.
  void copy_from(const DimVector& o) {
    if (o.size_ > kInline) {
      assign(o.begin(), o.end());
      return;
    }
    release();
    if (o.on_heap()) std::memcpy(inline_, o.data_, o.size_ * sizeof(int64_t));
    else std::memcpy(inline_, o.inline_, sizeof(inline_));
    size_ = o.size_;
  }
  // Moves o's elements here (this is empty and inline); o is left empty.
  void take(DimVector& o) {
    if (o.on_heap()) {
      data_ = o.data_;
      capacity_ = o.capacity_;
      o.data_ = o.inline_;
      o.capacity_ = kInline;
    } else {
      std::memcpy(inline_, o.inline_, sizeof(inline_));  // the whole block: see copy_from
    }
    size_ = o.size_;
    o.size_ = 0;
  }

  int64_t* data_ = inline_;
  uint32_t size_ = 0;
  uint32_t capacity_ = kInline;
  int64_t inline_[kInline] = {};  // zeroed, so copying the whole block never reads garbage
};

}  // namespace heed
