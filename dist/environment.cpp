#include "heed/dist/environment.h"

#include <mpi.h>

#include <exception>
#include <iostream>

namespace heed::dist {

namespace {

bool g_running = false;  // between this process's Environment's start and end

int world_rank() {
  int rank = -1;
  int up = 0, down = 0;
  MPI_Initialized(&up);
  MPI_Finalized(&down);
  if (up && !down) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

}  // namespace

namespace detail {

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw CommError(msg(call, " failed on rank ", world_rank(), ": ", std::string(text, static_cast<size_t>(length))));
}

void require_initialized(const char* what) {
  if (!g_running)
    throw ValueError(msg(what, ": MPI is not running; make a dist::Environment at the top of main first"));
}

}  // namespace detail

bool is_initialized() { return g_running; }

Environment::Environment(int& argc, char**& argv) {
  int up = 0;
  MPI_Initialized(&up);
  if (up) throw ValueError("dist::Environment: MPI is already initialized; make one Environment per process");
  // SERIALIZED: heed may start a collective from a thread other than main's
  // (never two at once), which FUNNELED would not allow.
  int provided = 0;
  detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw CommError(msg("dist::Environment: this MPI library offers thread level ", provided,
                        "; heed needs MPI_THREAD_SERIALIZED (", MPI_THREAD_SERIALIZED, ")"));
  }
  g_running = true;
}

Environment::~Environment() {
  if (!g_running) return;
  g_running = false;
  // Unwinding from an exception: the other ranks may be in a collective this one
  // will never join, and MPI_Finalize would wait for them. End the job instead.
  if (std::uncaught_exceptions() > 0) {
    std::cerr << "heed::dist: rank " << world_rank() << " is ending the job: an exception left its main\n";
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
}

void Environment::abort(int code, const std::string& why) {
  std::cerr << "heed::dist: rank " << world_rank() << " is ending the job: " << why << "\n";
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this only tells the compiler so
}

}  // namespace heed::dist
