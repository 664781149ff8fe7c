// The summing kernels: a run of numbers, the columns of a matrix, and the squared
// differences of two runs (a squared-error loss). Sums of float32 are kept in
// double: a float running sum of a million terms keeps only ~7 digits, so small
// terms added late would vanish.
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// The same functions in each namespace, for T = float and T = double:
//
// sum:               x[0] + ... + x[n-1]
// column_sums:       out[c] = (sum over r of m[r, c]) / divisor, for a matrix m
//                    [rows, cols] at p with row stride rs and column stride cs
// sum_squared_diff:  sum of (x[i] - t[i])^2, each square formed in T

// One loop each, adding in order.
namespace reference {
template <class T>
double sum(const T* x, int64_t n);
template <class T>
void column_sums(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, double divisor, T* out);
template <class T>
double sum_squared_diff(const T* x, const T* t, int64_t n);
}  // namespace reference

// Several running sums at once (independent chains the CPU overlaps), columns in
// blocks held in registers, long runs cut into chunks for the threads
// (ops/kernels/fast/reduce.cpp). The chunks depend only on n, never on the thread
// count, so a sum is the same on every machine and run.
namespace fast {
template <class T>
double sum(const T* x, int64_t n);
template <class T>
void column_sums(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, double divisor, T* out);
template <class T>
double sum_squared_diff(const T* x, const T* t, int64_t n);
}  // namespace fast

// Each version's .cpp ends with HEED_REDUCE_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_REDUCE_KERNELS_FOR(T) \
  template double sum(const T*, int64_t);                                                                     \
  template void column_sums(const T*, int64_t, int64_t, int64_t, int64_t, double, T*);                          \
  template double sum_squared_diff(const T*, const T*, int64_t);

}  // namespace heed::kernels
