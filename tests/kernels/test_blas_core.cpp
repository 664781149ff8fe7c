// The warning for an OpenBLAS that runs kernels narrower than the CPU's vectors,
// and which of its kernel sets use AVX-512 (ops/kernels/fast/blas_core.h).
#include <doctest/doctest.h>

#include <string>

#include "heed/ops/kernels/fast/blas_core.h"

using heed::kernels::fast::blas_core_warning;
using heed::kernels::fast::CpuVectors;
using heed::kernels::fast::is_avx512_core;

namespace {
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("blas core: the fallback kernels on a CPU with AVX-512 draw a warning that names the remedy") {
  const std::string text = blas_core_warning("Prescott", CpuVectors{true, true}, false);
  CHECK(has(text, "Prescott"));
  CHECK(has(text, "AVX-512"));
  CHECK(has(text, "OPENBLAS_CORETYPE=SkylakeX"));
  // the name as OpenBLAS spells it, in any case
  CHECK(has(blas_core_warning("PRESCOTT", CpuVectors{true, true}, false), "OPENBLAS_CORETYPE=SkylakeX"));
}

TEST_CASE("blas core: on a CPU with AVX2 and no AVX-512 the remedy is Haswell's kernels") {
  const std::string text = blas_core_warning("Nehalem", CpuVectors{true, false}, false);
  CHECK(has(text, "AVX2"));
  CHECK(has(text, "OPENBLAS_CORETYPE=Haswell"));
  CHECK(has(blas_core_warning("Sandybridge", CpuVectors{true, false}, false), "OPENBLAS_CORETYPE=Haswell"));
}

TEST_CASE("blas core: no warning where the kernels fit the CPU or the user chose them") {
  for (const char* core : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "SomeFutureCore"}) {
    CAPTURE(core);
    CHECK(blas_core_warning(core, CpuVectors{true, true}, false).empty());
  }
  // OPENBLAS_CORETYPE set: the user picked the kernels
  CHECK(blas_core_warning("Prescott", CpuVectors{true, true}, true).empty());
  // a CPU without AVX2: SSE kernels are what it can run
  CHECK(blas_core_warning("Prescott", CpuVectors{false, false}, false).empty());
}

TEST_CASE("blas core: the AVX-512 kernel sets, by name in any case, and nothing else") {
  for (const char* core : {"SkylakeX", "COOPERLAKE", "SapphireRapids"}) {
    CAPTURE(core);
    CHECK(is_avx512_core(core));
  }
  // a set this list does not know counts as narrower (few_rows_gemm.h then takes its third form)
  for (const char* core : {"Haswell", "Zen", "Prescott", "SomeFutureCore", ""}) {
    CAPTURE(core);
    CHECK_FALSE(is_avx512_core(core));
  }
}
