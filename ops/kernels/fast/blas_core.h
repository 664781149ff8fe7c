// Whether OpenBLAS runs kernels as wide as the CPU's vectors.
//
// Debian's OpenBLAS is built with DYNAMIC_ARCH: it holds kernels for many CPUs
// and, as it loads, picks one set by the CPU's family and model number. A CPU
// newer than its tables gets the fallback, Prescott's SSE3 kernels: 4 floats a
// vector where AVX2 holds 8 and AVX-512 16, and no fused multiply-add, so every
// product takes several times as long (bench/RESULTS.md has a measurement).
// OpenBLAS picks in its library constructor, before main, so heed cannot change
// the pick; it can see it, and name the one remedy: the OPENBLAS_CORETYPE
// variable, which OpenBLAS reads at that moment.
#pragma once

#include <string>
#include <string_view>

namespace heed::kernels::fast {

// The vector instructions a CPU has, as far as a matrix kernel cares.
struct CpuVectors {
  bool avx2_fma = false;  // AVX2 and FMA: what OpenBLAS's Haswell kernels need
  bool avx512 = false;    // AVX-512 F, VL, BW and DQ: what its SkylakeX kernels need
};
CpuVectors cpu_vectors();  // this CPU's

// What to tell the user where OpenBLAS's kernel set `core` (its corename) uses
// narrower vectors than `cpu` has and `chosen` is false (OPENBLAS_CORETYPE not
// set: a core the user named is the user's choice). "" otherwise.
std::string blas_core_warning(std::string_view core, CpuVectors cpu, bool chosen);

// Whether OpenBLAS's kernel set `core` uses AVX-512 (its SkylakeX, Cooperlake
// and SapphireRapids sets), and whether this process's OpenBLAS does. Where it
// does not on a CPU that has AVX-512 (OPENBLAS_CORETYPE=Haswell, or a CPU this
// OpenBLAS does not know), heed's own AVX-512 loops do twice the multiply-adds
// per instruction that OpenBLAS's kernel does (few_rows_gemm.h).
bool is_avx512_core(std::string_view core);
bool blas_runs_avx512();

// Writes that warning for this process's OpenBLAS and CPU to stderr, once per
// process (the first call; the rest do nothing).
void warn_once_if_blas_core_is_behind();

}  // namespace heed::kernels::fast
