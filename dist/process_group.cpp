#include "heed/dist/process_group.h"

#include <mpi.h>

#include <climits>
#include <vector>

#include "heed/autograd/grad_mode.h"

namespace heed::dist {

struct ProcessGroup::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  ~Impl() {
    int down = 0;
    MPI_Finalized(&down);
    if (!down && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);  // after MPI_Finalize, MPI has freed it
  }
};

struct Work::State {
  MPI_Request request = MPI_REQUEST_NULL;
  Tensor tensor;  // kept alive while MPI writes into it
  bool average = false;
  int size = 1;
  const char* call = "";
};

namespace {

// The MPI type of a dtype's elements.
MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
  }
  return MPI_DATATYPE_NULL;
}

// MPI counts elements with an int.
int count_of(const char* op, const Tensor& t) {
  if (t.numel() > INT_MAX)
    throw ValueError(msg(op, ": the tensor has ", t.numel(), " elements; MPI counts with an int, so at most ", INT_MAX,
                         " per call (split it)"));
  return static_cast<int>(t.numel());
}

// MPI reads and writes the tensor's memory as one block.
void check_tensor(const char* op, const Tensor& t) {
  if (!t.defined()) throw ValueError(msg(op, ": the tensor is undefined"));
  if (!t.is_contiguous())
    throw ValueError(msg(op, ": the tensor (shape ", t.shape(), ", strides ", t.strides(),
                         ") is not contiguous; MPI works on its memory in place (pass t.contiguous() and use the result)"));
}

void check_reducible(const char* op, const Tensor& t, ReduceOp reduce) {
  check_tensor(op, t);
  if (reduce == ReduceOp::kAverage && !is_floating(t.dtype()))
    throw DTypeError(msg(op, ": an average of ", t.dtype(), " would round; use kSum, or a float32 or float64 tensor"));
}

// The average is the sum divided by the number of ranks, done here in place.
void divide(Tensor& t, int size) {
  dispatch_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_ptr<T>();
    const T scale = T(1) / static_cast<T>(size);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] *= scale;
  });
  t.impl().storage->bump_version();
}

}  // namespace

// ---- Work -------------------------------------------------------------------------------

Work::Work() = default;
Work::Work(std::unique_ptr<State> state) : state_(std::move(state)) {}
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&& other) noexcept {
  if (this != &other) {
    try {
      wait();  // the request this handle held must not be dropped while MPI still writes
    } catch (...) {
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

Work::~Work() {
  try {
    wait();
  } catch (...) {  // a destructor must not throw; wait() yourself to see the error
  }
}

void Work::wait() {
  if (!state_) return;
  std::unique_ptr<State> s = std::move(state_);  // done whatever happens: a second wait() is a no-op
  detail::check(MPI_Wait(&s->request, MPI_STATUS_IGNORE), s->call);
  if (s->average) divide(s->tensor, s->size);
}

bool Work::is_completed() {
  if (!state_) return true;
  int done = 0;
  detail::check(MPI_Test(&state_->request, &done, MPI_STATUS_IGNORE), state_->call);
  if (done) {
    std::unique_ptr<State> s = std::move(state_);
    if (s->average) divide(s->tensor, s->size);
  }
  return done != 0;
}

// ---- ProcessGroup --------------------------------------------------------------------------

ProcessGroup ProcessGroup::world() {
  detail::require_initialized("ProcessGroup::world");
  auto impl = std::make_shared<Impl>();
  detail::check(MPI_Comm_dup(MPI_COMM_WORLD, &impl->comm), "MPI_Comm_dup");
  detail::check(MPI_Comm_set_errhandler(impl->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  detail::check(MPI_Comm_rank(impl->comm, &impl->rank), "MPI_Comm_rank");
  detail::check(MPI_Comm_size(impl->comm, &impl->size), "MPI_Comm_size");
  return ProcessGroup(std::move(impl));
}

int ProcessGroup::rank() const { return impl_->rank; }
int ProcessGroup::size() const { return impl_->size; }

void ProcessGroup::allreduce(Tensor& t, ReduceOp op) const { allreduce_async(t, op).wait(); }

Work ProcessGroup::allreduce_async(Tensor& t, ReduceOp op) const {
  check_reducible("allreduce", t, op);
  detail::require_initialized("allreduce");
  auto s = std::make_unique<Work::State>();
  s->tensor = t;
  s->average = op == ReduceOp::kAverage;
  s->size = impl_->size;
  s->call = "MPI_Iallreduce";
  // MPI_IN_PLACE: each rank's buffer is both its input and its output, no copy.
  detail::check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data_ptr(), count_of("allreduce", t), mpi_type(t.dtype()), MPI_SUM,
                               impl_->comm, &s->request),
                "MPI_Iallreduce");
  return Work(std::move(s));
}

void ProcessGroup::broadcast(Tensor& t, int root) const {
  check_tensor("broadcast", t);
  detail::require_initialized("broadcast");
  if (root < 0 || root >= impl_->size)
    throw IndexError(msg("broadcast: root ", root, " is not a rank of this group (0..", impl_->size - 1, ")"));
  // Root's shape and dtype first: a rank whose tensor differs would otherwise
  // receive the wrong number of bytes, silently or not at all.
  std::vector<int64_t> header = {static_cast<int64_t>(t.dtype()), t.dim()};
  for (int64_t d : t.shape()) header.push_back(d);
  int64_t length = static_cast<int64_t>(header.size());
  detail::check(MPI_Bcast(&length, 1, MPI_INT64_T, root, impl_->comm), "MPI_Bcast");
  std::vector<int64_t> roots(static_cast<size_t>(length));
  if (impl_->rank == root) roots = header;
  detail::check(MPI_Bcast(roots.data(), static_cast<int>(length), MPI_INT64_T, root, impl_->comm), "MPI_Bcast");
  // Every rank learns whether any differs, so that all of them throw, root
  // included, instead of root sending into a collective the others have left.
  int differs = roots != header ? 1 : 0;
  detail::check(MPI_Allreduce(MPI_IN_PLACE, &differs, 1, MPI_INT, MPI_MAX, impl_->comm), "MPI_Allreduce");
  if (differs) {
    const Shape root_shape(roots.begin() + 2, roots.end());  // [dtype, dim, sizes...]
    throw ShapeError(msg("broadcast: root ", root, " sends a ", static_cast<DType>(roots[0]), " tensor of shape ",
                         root_shape, ", and ", roots == header ? "another rank" : "rank " + std::to_string(impl_->rank),
                         " has ", roots == header ? "a different one" : msg("a ", t.dtype(), " of shape ", t.shape()),
                         "; every rank must pass the same shape and dtype"));
  }
  detail::check(MPI_Bcast(t.raw_data_ptr(), count_of("broadcast", t), mpi_type(t.dtype()), root, impl_->comm),
                "MPI_Bcast");
  t.impl().storage->bump_version();
}

void ProcessGroup::barrier() const {
  detail::require_initialized("barrier");
  detail::check(MPI_Barrier(impl_->comm), "MPI_Barrier");
}

Tensor ProcessGroup::allgather(const Tensor& t) const {
  check_tensor("allgather", t);
  detail::require_initialized("allgather");
  // Every rank's shape and dtype, compared first, so that a mismatch is an error on every rank.
  std::vector<int64_t> mine = {static_cast<int64_t>(t.dtype()), t.dim()};
  for (int64_t d : t.shape()) mine.push_back(d);
  mine.resize(2 + 8, -1);  // up to 8 dims compared; more are rare for metrics
  if (t.dim() > 8) throw ShapeError(msg("allgather: the tensor has ", t.dim(), " dims; at most 8"));
  std::vector<int64_t> all(mine.size() * static_cast<size_t>(impl_->size));
  detail::check(MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_INT64_T, all.data(),
                              static_cast<int>(mine.size()), MPI_INT64_T, impl_->comm),
                "MPI_Allgather");
  for (int r = 0; r < impl_->size; ++r)
    if (!std::equal(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(r * mine.size())))
      throw ShapeError(msg("allgather: rank ", impl_->rank, " has a ", t.dtype(), " tensor of shape ", t.shape(),
                           ", and rank ", r, " another shape or dtype; every rank must pass the same"));
  std::vector<int64_t> shape = {impl_->size};
  shape.insert(shape.end(), t.shape().begin(), t.shape().end());
  Tensor out = Tensor::empty(shape, t.dtype());
  const int count = count_of("allgather", t);
  detail::check(MPI_Allgather(t.raw_data_ptr(), count, mpi_type(t.dtype()), out.raw_data_ptr(), count, mpi_type(t.dtype()),
                              impl_->comm),
                "MPI_Allgather");
  return out;
}

}  // namespace heed::dist
