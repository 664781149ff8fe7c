// MPI for this process: heed's distributed training runs one process per
// worker (per machine, or per socket), started together by an MPI launcher,
//
//   mpirun -np 4 ./train        # four copies of the same program, ranks 0..3
//
// and each process makes one Environment at the top of main, before anything
// else uses MPI:
//
//   int main(int argc, char** argv) {
//     dist::Environment mpi(argc, argv);          // MPI_Init_thread
//     dist::ProcessGroup world = dist::ProcessGroup::world();
//     ...                                        // world.rank(), world.allreduce(t), ...
//   }                                            // MPI_Finalize
//
// MPI is an existing engine (Open MPI or MPICH, from Debian): it finds the other
// processes, picks the fastest path to each (shared memory on one machine,
// TCP or InfiniBand between machines) and runs the collectives. heed adds
// tensors, exceptions and the overlap with backward (DistributedDataParallel).
//
// A failing rank must not leave the others waiting in a collective it will
// never join. An exception that leaves main ends the process (std::terminate),
// and the launcher then stops the whole job. An Environment destroyed while an
// exception is unwinding calls MPI_Abort for the same reason: MPI_Finalize
// would wait for ranks that are themselves waiting for this one.
#pragma once

#include <string>

#include "heed/core/error.h"

namespace heed::dist {

// A failed MPI call: the message names the call and the rank, and MPI's own words.
struct CommError : Error {
  using Error::Error;
};

class Environment {
 public:
  // Starts MPI (MPI_Init_thread, asking for MPI_THREAD_SERIALIZED: collectives may
  // come from any thread, one at a time). Only one Environment per process.
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Ends the whole job now, every rank, with `code` (MPI_Abort), after printing
  // `why` with this rank's number. For a rank that caught an error it cannot
  // recover from.
  [[noreturn]] static void abort(int code, const std::string& why);
};

// Whether an Environment has started MPI and not yet finished it.
bool is_initialized();

namespace detail {
// Throws a CommError naming `call`, this rank and MPI's message, unless `code` is
// MPI_SUCCESS. heed's communicators return their errors (MPI_ERRORS_RETURN)
// instead of MPI's default, which ends the process.
void check(int code, const char* call);
// A ValueError unless an Environment is running; `what` names the caller.
void require_initialized(const char* what);
}  // namespace detail

}  // namespace heed::dist
