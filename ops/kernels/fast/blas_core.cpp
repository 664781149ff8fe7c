// Whether OpenBLAS's kernels fit the CPU: see blas_core.h.
#include "heed/ops/kernels/fast/blas_core.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <iostream>

namespace heed::kernels::fast {

namespace {

// OpenBLAS's x86 kernel sets whose vectors are narrower than AVX2's (SSE, or
// AVX without FMA). The list names the old ones rather than the good ones, so
// that a set added after this list was written (a newer OpenBLAS's name for a
// newer CPU) never draws a warning.
constexpr std::array<std::string_view, 17> kNarrowCores = {
    "prescott", "core2",    "penryn",   "dunnington", "nehalem",    "sandybridge", "atom",      "nano",    "athlon",
    "opteron",  "opteron_sse3", "barcelona", "bobcat", "katmai", "coppermine", "northwood", "banias"};

// OpenBLAS's x86 kernel sets that use AVX-512. Here the list names the wide
// ones: a set it does not know counts as narrower, which costs at most the
// speed of the few products heed then computes itself (blas_core.h).
constexpr std::array<std::string_view, 3> kAvx512Cores = {"skylakex", "cooperlake", "sapphirerapids"};

template <size_t N>
bool is_listed(std::string_view core, const std::array<std::string_view, N>& list) {
  std::string lower(core);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return std::find(list.begin(), list.end(), lower) != list.end();
}

bool is_narrow(std::string_view core) { return is_listed(core, kNarrowCores); }

}  // namespace

CpuVectors cpu_vectors() {
  __builtin_cpu_init();
  CpuVectors cpu;
  cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  return cpu;
}

std::string blas_core_warning(std::string_view core, CpuVectors cpu, bool chosen) {
  if (chosen || !cpu.avx2_fma || !is_narrow(core)) return "";
  const std::string wide = cpu.avx512 ? "AVX-512" : "AVX2";
  const std::string remedy = cpu.avx512 ? "SkylakeX" : "Haswell";
  return "heed: OpenBLAS runs its " + std::string(core) + " kernels on this CPU, which has " + wide +
         ": this OpenBLAS does not know the CPU's model, so every matrix product runs with narrower vectors than "
         "the CPU has, several times slower than it can. Start the program with OPENBLAS_CORETYPE=" +
         remedy + " in its environment (OpenBLAS reads it as it loads; the kernels it names use " + wide + ").";
}

bool is_avx512_core(std::string_view core) { return is_listed(core, kAvx512Cores); }

bool blas_runs_avx512() {
  static const bool avx512 = is_avx512_core(openblas_get_corename());
  return avx512;
}

void warn_once_if_blas_core_is_behind() {
  // A static's initializer runs once, and the threads that race to it wait.
  static const bool warned = [] {
    const std::string text =
        blas_core_warning(openblas_get_corename(), cpu_vectors(), std::getenv("OPENBLAS_CORETYPE") != nullptr);
    if (!text.empty()) std::cerr << text << "\n";
    return true;
  }();
  (void)warned;
}

}  // namespace heed::kernels::fast
