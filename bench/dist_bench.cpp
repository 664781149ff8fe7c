// W7 across processes: the GPT training step of heed_bench's W7 (B = 8 windows
// of 128 bytes per process, 4 layers, C 256, AdamW) with DistributedDataParallel,
// run under MPI:
//
//   mpiexec -n 1 build-bench/bench/dist_bench --plain   # one process, no DDP: the baseline
//   mpiexec -n 2 build-bench/bench/dist_bench           # two processes, gradients averaged
//
// Each process takes its own batch of 8, so N processes train on 8N windows per
// step, and the speed-up is N * (baseline step time) / (step time): how much
// faster the same number of windows is trained. Run with OMP_NUM_THREADS=1 to
// compare N processes x 1 thread against 1 x 1.
//
// It prints (rank 0), tab-separated:
//   step      median seconds per step over the samples (the slowest rank's), and the fastest
//   comm      the all-reduce of every bucket alone, blocking, no backward to hide behind (median)
//   wait      what backward waited for at its end, per step: the communication not hidden
//   hidden    1 - wait / comm, the share of the all-reduce time hidden behind backward
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gpt/model.h"
#include "heed/heed.h"
#include "workloads.h"

using namespace heed;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The largest value over the ranks: coupled by their all-reduces, the job goes
// at the slowest rank's pace.
double slowest(const dist::ProcessGroup& world, double seconds) {
  return max(world.allgather(Tensor::scalar(seconds, kFloat64))).item();
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment mpi(argc, argv);
  bool plain = false;
  int samples = 7, steps_per_sample = 3;
  dist::DDPOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--plain") plain = true;
    else if (a == "--samples" && i + 1 < argc) samples = std::atoi(argv[++i]);
    else if (a == "--steps-per-sample" && i + 1 < argc) steps_per_sample = std::atoi(argv[++i]);
    else if (a == "--bucket-cap-mb" && i + 1 < argc) options.bucket_cap_mb = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: dist_bench [--plain] [--samples N] [--steps-per-sample N] [--bucket-cap-mb MB]\n");
      return 2;
    }
  }
  const dist::ProcessGroup world = dist::ProcessGroup::world();
  const bool chief = world.rank() == 0;

  manual_seed(1);
  auto model = std::make_shared<gpt::GPT>(gpt::Config{.vocab_size = bench::kW7Vocab, .block_size = bench::kW7T,
                                                      .n_layer = bench::kW7Layers, .n_head = bench::kW7Heads,
                                                      .n_embd = bench::kW7Embd});
  std::unique_ptr<dist::DistributedDataParallel> ddp;
  if (!plain) ddp = std::make_unique<dist::DistributedDataParallel>(model, world, options);
  std::vector<Tensor> decay, no_decay;
  for (const auto& [name, p] : model->named_parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  optim::AdamW opt(std::vector<optim::AdamW::Group>{{decay, {.lr = 1e-3, .betas = {0.9, 0.95}, .weight_decay = 0.1}},
                                                    {no_decay, {.lr = 1e-3, .betas = {0.9, 0.95}, .weight_decay = 0.0}}});
  const int64_t B = bench::kW7Batch, T = bench::kW7T, V = bench::kW7Vocab;
  Generator data(100 + static_cast<uint64_t>(world.rank()));  // each rank its own windows
  const Tensor x = Tensor::randint(0, V, {B, T}, data), y = Tensor::randint(0, V, {B, T}, data);
  auto step = [&] {
    opt.zero_grad();
    nn::cross_entropy((*model)(x).reshape({B * T, V}), y.reshape({B * T})).backward();
    opt.step();
  };

  for (int i = 0; i < 3; ++i) step();  // warm-up: optimizer state, allocator pools, MPI's connections
  if (ddp) ddp->reset_stats();
  std::vector<double> per_step;
  for (int s = 0; s < samples; ++s) {
    world.barrier();
    const double t0 = now();
    for (int k = 0; k < steps_per_sample; ++k) step();
    per_step.push_back(slowest(world, (now() - t0) / steps_per_sample));
  }
  const double step_median = median(per_step), step_min = *std::min_element(per_step.begin(), per_step.end());

  // The same all-reduces with nothing to hide behind: every bucket, back to back, blocking.
  double comm = 0, wait = 0;
  int64_t bytes = 0;
  if (ddp) {
    wait = ddp->stats().wait_seconds / static_cast<double>(ddp->stats().backwards);
    bytes = ddp->stats().bytes / ddp->stats().backwards;
    std::vector<double> alone;
    std::vector<Tensor> buffers = ddp->bucket_buffers();
    for (int r = 0; r < 10; ++r) {
      world.barrier();
      const double t0 = now();
      std::vector<dist::Work> works;
      for (Tensor& b : buffers) works.push_back(world.allreduce_async(b, dist::ReduceOp::kAverage));
      for (dist::Work& w : works) w.wait();
      alone.push_back(slowest(world, now() - t0));
    }
    comm = median(alone);
  }
  if (chief) {
    std::printf("processes\t%d\n", world.size());
    std::printf("ddp\t%s\n", ddp ? "yes" : "no (--plain)");
    std::printf("step\t%.2f ms median\t%.2f ms min\t%d samples x %d steps\n", step_median * 1e3, step_min * 1e3,
                samples, steps_per_sample);
    std::printf("windows_per_s\t%.1f\n", static_cast<double>(world.size() * B) / step_median);
    if (ddp) {
      std::printf("buckets\t%zu\t%.2f MB per step per rank\n", ddp->bucket_names().size(),
                  static_cast<double>(bytes) / (1024.0 * 1024.0));
      std::printf("comm\t%.2f ms (all buckets, blocking, alone)\n", comm * 1e3);
      std::printf("wait\t%.2f ms per step (not hidden)\n", wait * 1e3);
      std::printf("hidden\t%.0f%%\n", 100.0 * std::clamp(1.0 - wait / comm, 0.0, 1.0));
    }
  }
  return 0;
}
