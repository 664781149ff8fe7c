// heed's distributed layer, over MPI: built when CMake finds MPI (Debian:
// libopenmpi-dev and openmpi-bin, or libmpich-dev).
//   environment.h     starting and ending MPI, errors, aborting the whole job
//   process_group.h   rank, size, allreduce (and its asynchronous form), broadcast, barrier, allgather
//   ddp.h             DistributedDataParallel: a model trained by every rank, gradients averaged during backward
//   checkpoint.h      a distributed run's training state: rank 0 writes, every rank reads
#pragma once

// Code that works with and without MPI can test for this layer: #if HEED_HAS_DIST.
#define HEED_HAS_DIST 1

#include "heed/dist/checkpoint.h"
#include "heed/dist/ddp.h"
#include "heed/dist/environment.h"
#include "heed/dist/process_group.h"
