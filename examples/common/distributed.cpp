#include "common/distributed.h"

#include <optional>
#include <string>

namespace examples {

using namespace heed;

#if HEED_HAS_DIST
struct Distributed::Impl {
  std::optional<dist::Environment> environment;
  std::optional<dist::ProcessGroup> world;
  std::unique_ptr<dist::DistributedDataParallel> ddp;
};
#else
struct Distributed::Impl {};
#endif

Distributed::Distributed() : impl_(std::make_unique<Impl>()) {}
Distributed::~Distributed() = default;

void Distributed::add_option(CLI::App& app) {
  app.add_flag("--distributed", on_,
               "one process of an MPI job (mpirun -np N ... --distributed): each rank trains on batch / N "
               "of every batch, and the gradients are averaged");
}

void Distributed::start(int& argc, char**& argv) {
  if (!on_) return;
#if HEED_HAS_DIST
  impl_->environment.emplace(argc, argv);
  impl_->world = dist::ProcessGroup::world();
  rank_ = impl_->world->rank();
  size_ = impl_->world->size();
#else
  (void)argc;
  (void)argv;
  throw ValueError("--distributed: this heed was built without MPI (install libopenmpi-dev openmpi-bin and rebuild)");
#endif
}

int64_t Distributed::share(int64_t global) const {
  if (global % size_ != 0)
    throw ValueError(msg("--distributed: the batch of ", global, " does not divide between ", size_,
                         " processes; pick a multiple of ", size_));
  return global / size_;
}

std::shared_ptr<const data::Sampler> Distributed::sampler(std::shared_ptr<const data::Sampler> inner) const {
  if (!on_) return inner;
  return std::make_shared<data::ShardSampler>(std::move(inner), rank_, size_);
}

void Distributed::wrap(std::shared_ptr<nn::Module> model) {
#if HEED_HAS_DIST
  if (on_) impl_->ddp = std::make_unique<dist::DistributedDataParallel>(std::move(model), *impl_->world);
#else
  (void)model;
#endif
}

double Distributed::average(double value) const {
#if HEED_HAS_DIST
  if (!on_) return value;
  Tensor t = Tensor::scalar(value, kFloat64);
  impl_->world->allreduce(t, dist::ReduceOp::kAverage);
  return t.item();
#else
  return value;
#endif
}

void Distributed::abort_job() const {
#if HEED_HAS_DIST
  if (on_ && dist::is_initialized()) dist::Environment::abort(1, "an error on rank " + std::to_string(rank_));
#endif
}

}  // namespace examples
