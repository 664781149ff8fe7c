// The elementwise kernels, under every elementwise op (ops/map.h: unary_map and
// binary_map):
//
//   map1:  out = f(a)       map2:  out = f(a, b)
//
// over the elements of one shape, each operand read through its own strides (0
// along a dim it is broadcast over) and out written through its own. f is the
// op's formula as a generic lambda, so these are templates, defined in their
// headers: reference/map.h walks the index like an odometer, one element after
// another; fast/map.h picks a flat vectorizable loop where the operands' layout
// allows one, and shares big ones between the threads.
#pragma once

#include "heed/ops/kernels/kernels.h"
#include "heed/ops/kernels/reference/map.h"
#ifndef HEED_REFERENCE_KERNELS
#include "heed/ops/kernels/fast/map.h"
#endif
