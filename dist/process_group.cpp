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

// Every rank must pass a tensor of root's shape and dtype, or a collective would
// move the wrong number of bytes, silently or not at all. Root's [dtype, dim,
// sizes...] goes to every rank, each compares it with its own, and all learn
// whether any rank differs, so that every rank throws, root included, instead of
// some of them entering a collective the others have left.
void require_roots_layout(const char* op, const Tensor& t, int root, const ProcessGroup::Impl& group) {
  std::vector<int64_t> mine = {static_cast<int64_t>(t.dtype()), t.dim()};
  mine.insert(mine.end(), t.shape().begin(), t.shape().end());
  int64_t length = static_cast<int64_t>(mine.size());
  detail::check(MPI_Bcast(&length, 1, MPI_INT64_T, root, group.comm), "MPI_Bcast");
  std::vector<int64_t> roots(static_cast<size_t>(length));
  if (group.rank == root) roots = mine;
  detail::check(MPI_Bcast(roots.data(), static_cast<int>(length), MPI_INT64_T, root, group.comm), "MPI_Bcast");
  const bool i_differ = roots != mine;
  int any_differs = i_differ ? 1 : 0;
  detail::check(MPI_Allreduce(MPI_IN_PLACE, &any_differs, 1, MPI_INT, MPI_MAX, group.comm), "MPI_Allreduce");
  if (!any_differs) return;
  const Shape root_shape(roots.begin() + 2, roots.end());
  throw ShapeError(msg(op, ": rank ", root, " has a ", static_cast<DType>(roots[0]), " tensor of shape ", root_shape,
                       ", and ", i_differ ? "rank " + std::to_string(group.rank) : std::string("another rank"), " has ",
                       i_differ ? msg("a ", t.dtype(), " of shape ", t.shape()) : std::string("a different one"),
                       "; every rank must pass the same shape and dtype"));
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
  require_roots_layout("broadcast", t, root, *impl_);
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
  require_roots_layout("allgather", t, 0, *impl_);
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
