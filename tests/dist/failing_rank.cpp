// A rank that fails mid-training must not leave the others waiting: rank 1
// throws after three steps, while the others go on into the fourth step's
// allreduce, which rank 1 never joins. The exception leaves main, the process
// ends, and mpirun ends the job (check_failing_rank.cmake times it).
#include <iostream>
#include <stdexcept>

#include "heed/dist/dist.h"

using namespace heed;

int main(int argc, char** argv) {
  dist::Environment mpi(argc, argv);
  const dist::ProcessGroup world = dist::ProcessGroup::world();
  Tensor grad = Tensor::ones({1000});
  for (int step = 1; step <= 1000; ++step) {
    if (world.rank() == 1 && step == 4) throw ValueError("rank 1 gives up at step 4 (on purpose)");
    world.allreduce(grad, dist::ReduceOp::kAverage);
  }
  std::cout << "unreachable: rank " << world.rank() << " finished\n";
  return 0;
}
