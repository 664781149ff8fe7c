// Kernels: the loops that do an op's work, on raw memory.
//
// An op (ops/*.cpp) reads as its math: it checks its arguments, calls a kernel
// for the forward, and records the backward formula, whose work is again a
// kernel. The kernels take pointers and sizes, never Tensors: no shapes to
// check, no graph, nothing thrown, so they can run on any thread.
//
// Each kernel comes in up to two versions behind one signature:
//   kernels::reference::  plain loops, written to be read and stepped through
//                         (ops/kernels/reference/), always built;
//   kernels::fast::       the same results by faster means: vector lanes, a
//                         fast exp, OpenBLAS, OpenMP threads, CPU-specific
//                         copies (ops/kernels/fast/), where speed pays for it.
// An op calls kernels::name(...), which is the fast version, or the reference
// one when heed is built with the CMake option HEED_REFERENCE_KERNELS=ON (then
// the fast ones are not even compiled). tests/kernels/ checks every fast kernel
// against its reference on random inputs and awkward sizes.
//
// A kernel with only a plain version (an index gather, say) sits next to
// its op instead: there is nothing to choose between.
#pragma once

namespace heed::kernels {

namespace reference {}
namespace fast {}

#ifdef HEED_REFERENCE_KERNELS
using namespace reference;
#else
using namespace fast;
#endif

}  // namespace heed::kernels
