#include "heed/dist/ddp.h"

#include <chrono>
#include <cstring>

#include "heed/autograd/engine.h"
#include "heed/autograd/grad_mode.h"

namespace heed::dist {

namespace {

constexpr double kMegabyte = 1024.0 * 1024.0;

int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<int64_t>(element_size(t.dtype())); }

}  // namespace

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, ProcessGroup group,
                                                 DDPOptions options)
    : module_(std::move(module)), group_(std::move(group)) {
  if (!module_) throw ValueError("DistributedDataParallel: the module is null");
  if (!(options.bucket_cap_mb > 0) || !(options.first_bucket_cap_mb > 0))
    throw ValueError(msg("DistributedDataParallel: bucket_cap_mb ", options.bucket_cap_mb, ", first_bucket_cap_mb ",
                         options.first_bucket_cap_mb, "; both must be > 0"));
  // Every rank starts from rank 0's weights: the model may have been initialised
  // from a different seed on each rank, and nothing else would fix that.
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : module_->named_parameters()) group_.broadcast(p, 0);
    if (options.broadcast_buffers)
      for (auto& [name, b] : module_->named_buffers()) group_.broadcast(b, 0);
  }

  // Buckets, in reverse registration order: the last layers' gradients are
  // finished first in backward, so their bucket can start first. A bucket holds
  // one dtype (it is one flat tensor) and closes at its size cap.
  std::vector<std::pair<std::string, Tensor>> params = module_->named_parameters();
  std::vector<std::vector<size_t>> members;
  std::vector<int64_t> bucket_bytes;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& p = it->second;
    if (!p.requires_grad()) continue;  // frozen: nothing to average
    const double cap = (members.size() <= 1 ? options.first_bucket_cap_mb : options.bucket_cap_mb) * kMegabyte;
    const bool fits = !members.empty() && slots_[members.back().front()].param.dtype() == p.dtype() &&
                      static_cast<double>(bucket_bytes.back() + bytes_of(p)) <= cap;
    if (!fits) {
      members.emplace_back();
      bucket_bytes.push_back(0);
    }
    members.back().push_back(slots_.size());
    bucket_bytes.back() += bytes_of(p);
    slots_.push_back({it->first, p, members.size() - 1, 0, 0});
  }
  if (slots_.empty()) throw ValueError("DistributedDataParallel: the module has no parameter that requires grad");
  for (const std::vector<size_t>& m : members) {
    Bucket b;
    int64_t numel = 0;
    for (size_t s : m) {
      slots_[s].offset = numel;
      numel += slots_[s].param.numel();
    }
    b.buffer = Tensor::zeros({numel}, slots_[m.front()].param.dtype());
    b.slots = m;
    buckets_.push_back(std::move(b));
  }
  // The hooks capture `this`, not the module or the wrapper's handles: a
  // parameter owns its hooks, and a hook holding the module would make the
  // module own itself. ~DistributedDataParallel removes them.
  for (size_t s = 0; s < slots_.size(); ++s)
    slots_[s].hook_id = slots_[s].param.register_post_accumulate_grad_hook([this, s](const Tensor&) { on_gradient(s); });
}

DistributedDataParallel::~DistributedDataParallel() {
  for (Slot& s : slots_) {
    try {
      s.param.remove_hook(s.hook_id);
    } catch (...) {  // a destructor must not throw
    }
  }
}

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_names() const {
  std::vector<std::vector<std::string>> out;
  for (const Bucket& b : buckets_) {
    out.emplace_back();
    for (size_t s : b.slots) out.back().push_back(slots_[s].name);
  }
  return out;
}

std::vector<Tensor> DistributedDataParallel::bucket_buffers() const {
  std::vector<Tensor> out;
  for (const Bucket& b : buckets_) out.push_back(b.buffer);
  return out;
}

void DistributedDataParallel::on_gradient(size_t slot) {
  if (!sync_) return;  // no_sync(): gradients accumulate locally
  const uint64_t backward = current_backward_id();
  if (armed_for_ != backward) {
    // The first gradient of this backward: arm the buckets, and have the end of
    // backward wait for them. If the wrapper is still armed for an earlier
    // backward, that one threw before its end (its callback never ran): its
    // all-reduces in flight are finished and dropped, so that this backward
    // starts from a clean state instead of counting on the last one's.
    if (armed_for_ != 0) drain();
    armed_for_ = backward;
    next_to_launch_ = 0;
    for (Bucket& b : buckets_) b.pending = b.slots.size();
    queue_callback([this] { finish(); });
  }
  // MPI moves a non-blocking collective's bytes only while the process is inside
  // an MPI call (Open MPI and MPICH have no progress thread by default), so each
  // gradient gives the buckets in flight a push: MPI_Test on one of them runs the
  // engine for all. Without it they would wait, untouched, for the end of backward.
  for (size_t i = 0; i < next_to_launch_; ++i)
    if (!buckets_[i].work.is_completed()) break;
  const Slot& s = slots_[slot];
  Bucket& b = buckets_[s.bucket];
  const Tensor g = s.param.grad();  // the leaf's own contiguous memory (autograd/engine.cpp)
  std::memcpy(static_cast<char*>(b.buffer.raw_data_ptr()) + s.offset * static_cast<int64_t>(element_size(g.dtype())),
              g.raw_data_ptr(), static_cast<size_t>(bytes_of(g)));
  if (--b.pending == 0) launch_ready();
}

void DistributedDataParallel::launch_ready() {
  // In bucket order only: every rank must start the same all-reduces in the
  // same order, whatever order its backward finished them in.
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_].pending == 0) {
    Bucket& b = buckets_[next_to_launch_++];
    b.work = group_.allreduce_async(b.buffer, ReduceOp::kAverage);
    stats_.bytes += b.buffer.numel() * static_cast<int64_t>(element_size(b.buffer.dtype()));
  }
}

void DistributedDataParallel::drain() {
  armed_for_ = 0;
  for (size_t i = 0; i < next_to_launch_; ++i) buckets_[i].work.wait();
  next_to_launch_ = 0;
}

void DistributedDataParallel::finish() {
  if (next_to_launch_ < buckets_.size()) {
    // Some parameter took no part in this loss. Its bucket cannot start, and
    // an average over ranks of a gradient some ranks lack has no meaning.
    const size_t launched = next_to_launch_;
    drain();  // nothing left in flight
    std::string missing;
    for (size_t i = launched; i < buckets_.size(); ++i)
      for (size_t s : buckets_[i].slots)
        if (!slots_[s].param.grad().defined()) missing += (missing.empty() ? "'" : ", '") + slots_[s].name + "'";
    throw ValueError(msg("DistributedDataParallel: rank ", group_.rank(), ": ",
                         missing.empty() ? std::string("a parameter") : missing,
                         " received no gradient in this backward. Every parameter that requires grad must take "
                         "part in the loss, on every rank; freeze the others (requires_grad_(false)) before "
                         "wrapping the model"));
  }
  armed_for_ = 0;
  const auto wait_start = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) b.work.wait();
  stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
  ++stats_.backwards;
  for (Bucket& b : buckets_) {
    for (size_t s : b.slots) {
      Tensor g = slots_[s].param.grad();
      std::memcpy(g.raw_data_ptr(),
                  static_cast<const char*>(b.buffer.raw_data_ptr()) +
                      slots_[s].offset * static_cast<int64_t>(element_size(g.dtype())),
                  static_cast<size_t>(bytes_of(g)));
      g.impl().storage->bump_version();
    }
  }
}

}  // namespace heed::dist
