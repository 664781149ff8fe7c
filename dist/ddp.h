// DistributedDataParallel: one model, trained by every process of a group on
// its own share of each batch, kept identical by averaging the gradients.
//
//   dist::Environment mpi(argc, argv);
//   dist::ProcessGroup world = dist::ProcessGroup::world();
//   auto model = std::make_shared<MyModel>();
//   dist::DistributedDataParallel ddp(model, world);   // rank 0's weights, everywhere
//   optim::AdamW opt(model->parameters());
//   for (data::Batch& b : loader) {                     // a loader with a ShardSampler
//     opt.zero_grad();
//     loss_fn(model->forward(b[0]), b[1]).backward();   // the all-reduces run inside
//     opt.step();                                       // every rank takes the same step
//   }
//
// Why it gives the training of one process: each rank's loss is the mean over
// its N examples, so the average of the ranks' gradients is the gradient of the
// mean over all size * N examples, the batch one process would have taken.
// Every rank starts from the same weights and applies the same averaged
// gradient, so the weights stay the same on every rank, step after step.
//
// How it overlaps communication with backward. The parameters are grouped into
// buckets of about bucket_cap_mb (the first one small), in reverse registration
// order: roughly the order in which backward finishes their gradients, the
// layers nearest the loss first. A hook on each parameter
// (Tensor::register_post_accumulate_grad_hook) copies its gradient into its
// bucket's flat buffer once backward has finished it; a bucket whose last
// gradient arrives starts its asynchronous all-reduce at once, and backward
// goes on computing the earlier layers while the bytes travel. A callback at
// the end of backward (queue_callback) waits for every bucket and copies the
// averages back into the gradients, so backward() returns with them in place.
// Buckets start strictly in bucket order, on every rank the same, as MPI needs
// its collectives in one order everywhere.
//
// A backward that throws (on every rank: the same data, the same error) leaves
// the wrapper ready for the next one, which finishes the all-reduces the failed
// one had started before it starts its own. A backward that throws on some
// ranks only leaves the ranks out of step, each waiting in collectives the
// others never call: such an error must end the job (dist::Environment aborts
// it when the exception leaves main).
//
// The module is called as usual (model->forward(...)); the wrapper works only
// through the hooks. It must stay alive while the model trains, and its
// destructor removes the hooks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "heed/dist/process_group.h"
#include "heed/nn/module.h"

namespace heed::dist {

struct DDPOptions {
  double bucket_cap_mb = 25;       // bytes per bucket, about
  double first_bucket_cap_mb = 1;  // the first bucket: small, so that communication starts early
  bool broadcast_buffers = true;   // also give every rank rank 0's buffers at construction
};

class DistributedDataParallel {
 public:
  DistributedDataParallel(std::shared_ptr<nn::Module> module, ProcessGroup group, DDPOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module& module() { return *module_; }
  const ProcessGroup& group() const { return group_; }

  // While the returned guard lives, backward() accumulates gradients locally and
  // communicates nothing: for gradient accumulation over micro-batches, the
  // last of which runs without the guard and averages the whole sum.
  //   { auto guard = ddp.no_sync(); loss(micro_1).backward(); }
  //   loss(micro_2).backward();   // all-reduces grad(micro_1) + grad(micro_2)
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp) : ddp_(ddp), was_(ddp.sync_) { ddp_.sync_ = false; }
    ~NoSync() { ddp_.sync_ = was_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool was_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  // The buckets, as lists of parameter names, first bucket first (for tests and docs).
  std::vector<std::vector<std::string>> bucket_names() const;
  // The bucket buffers, first bucket first (a benchmark times their all-reduce alone).
  std::vector<Tensor> bucket_buffers() const;

  // What the synchronizing backwards cost, since construction or reset_stats().
  struct Stats {
    int64_t backwards = 0;       // backward passes that averaged gradients
    int64_t bytes = 0;           // gradient bytes each rank sent into all-reduces
    double wait_seconds = 0;     // time backward waited at its end for all-reduces not yet done:
                                 // the communication backward did not hide
  };
  const Stats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  struct Slot {  // one parameter's place in its bucket
    std::string name;
    Tensor param;
    size_t bucket;
    int64_t offset;  // in elements, into the bucket's buffer
    int hook_id;
  };
  struct Bucket {
    Tensor buffer;              // flat, every gradient of the bucket side by side
    std::vector<size_t> slots;  // indices into slots_
    size_t pending = 0;         // gradients still to come in this backward
    Work work;                  // its all-reduce, once started
  };

  void on_gradient(size_t slot);  // a parameter's gradient is final for this backward
  void launch_ready();            // starts every bucket, in order, whose gradients are all in
  void finish();                  // the end of backward: wait, copy the averages back
  void drain();                   // waits for the buckets in flight and disarms

  std::shared_ptr<nn::Module> module_;
  ProcessGroup group_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  size_t next_to_launch_ = 0;
  Stats stats_;
  uint64_t armed_for_ = 0;  // the backward (current_backward_id) the buckets count for; 0: none
  bool sync_ = true;
};

}  // namespace heed::dist
