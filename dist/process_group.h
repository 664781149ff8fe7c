// A process group: the processes of a job that talk to each other, and the
// collective operations they run together. Every rank must call the same
// collectives in the same order with tensors of the same size (as in MPI and
// torch.distributed); that is what lets each call go without a handshake.
//
//   dist::ProcessGroup world = dist::ProcessGroup::world();
//   Tensor g = ...;                                  // this rank's gradient
//   world.allreduce(g, dist::ReduceOp::kAverage);    // now the mean over ranks, on every rank
//
//   dist::Work w = world.allreduce_async(g);          // starts it and returns at once
//   ...                                               // compute meanwhile
//   w.wait();                                         // g holds the sum from here on
//
// Tensors are used in place and must be contiguous, so that MPI reads and
// writes their memory directly: no copies in or out.
#pragma once

#include <memory>
#include <string>

#include "heed/core/tensor.h"
#include "heed/dist/environment.h"

namespace heed::dist {

enum class ReduceOp {
  kSum,      // every rank gets sum_r x_r
  kAverage,  // every rank gets (1 / size) sum_r x_r (the sum, then a division: MPI has no average)
};

// An asynchronous collective in flight. wait() blocks until it is done (and
// rethrows its error); until then the tensor belongs to MPI: do not read or
// write it. A Work destroyed before wait() waits in its destructor, since MPI
// would otherwise write into the tensor at some later moment.
class Work {
 public:
  Work();
  ~Work();
  Work(Work&&) noexcept;
  Work& operator=(Work&&) noexcept;

  void wait();
  bool is_completed();  // done already? (MPI_Test: never blocks)

  struct State;  // the MPI request and what finishing it takes (process_group.cpp)

 private:
  friend class ProcessGroup;
  explicit Work(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class ProcessGroup {
 public:
  // Every process of the job. heed talks on its own duplicate of MPI_COMM_WORLD,
  // so its messages never mix with MPI calls of the program's own.
  static ProcessGroup world();

  int rank() const;  // this process: 0 .. size - 1
  int size() const;  // the number of processes

  // In place, on every rank: t = op over the ranks of each rank's t. float32,
  // float64, or int64 (sum only).
  void allreduce(Tensor& t, ReduceOp op = ReduceOp::kSum) const;
  Work allreduce_async(Tensor& t, ReduceOp op = ReduceOp::kSum) const;
  // In place: every rank's t becomes root's. Any dtype; every rank must pass the
  // same shape and dtype (checked: root's are sent first).
  void broadcast(Tensor& t, int root = 0) const;
  // Waits until every rank has called it.
  void barrier() const;
  // Every rank's t side by side: [size, *t.shape()], row r from rank r. For
  // metrics (each rank's loss); the shapes must be equal (checked).
  Tensor allgather(const Tensor& t) const;

  struct Impl;  // the communicator (process_group.cpp)

 private:
  explicit ProcessGroup(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace heed::dist
