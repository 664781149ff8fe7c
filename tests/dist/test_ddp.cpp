// DistributedDataParallel under mpiexec (2 and 3 processes): each rank trains
// on its shard of every batch, and must reach the parameters one process
// reaches on the whole batch. Every rank also runs that one-process training
// itself, on the full batches, so each can compare without sending anything.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "heed/heed.h"

using namespace heed;
using namespace heed::dist;

namespace {

// A sequence classifier: an LSTM over [B, T, 4], a Linear on its last step.
struct LstmModel : nn::Module {
  LstmModel()
      : lstm(register_module("lstm", std::make_shared<nn::LSTM>(4, 8, nn::LSTMOptions{.batch_first = true}))),
        head(register_module("head", std::make_shared<nn::Linear>(8, 3))) {}
  Tensor forward(const Tensor& x) const { return head->forward(lstm->forward(x).output.select(1, -1)); }
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
};

// The same task through a Transformer block (no dropout: its random masks would
// differ between the runs), mean-pooled over time.
struct TransformerModel : nn::Module {
  TransformerModel()
      : embed(register_module("embed", std::make_shared<nn::Linear>(4, 16))),
        block(register_module("block", std::make_shared<nn::TransformerEncoderLayer>(
                                           16, 2, nn::TransformerLayerOptions{.dim_feedforward = 32, .dropout = 0.0,
                                                                              .batch_first = true}))),
        head(register_module("head", std::make_shared<nn::Linear>(16, 3))) {}
  Tensor forward(const Tensor& x) const { return head->forward(block->forward(embed->forward(x)).mean({1})); }
  std::shared_ptr<nn::Linear> embed;
  std::shared_ptr<nn::TransformerEncoderLayer> block;
  std::shared_ptr<nn::Linear> head;
};

constexpr int64_t kPerRank = 4, kSteps = 20, kT = 6;

// The same data on every rank: kSteps batches of size * kPerRank sequences.
data::TensorDataset make_data(int size, DType dtype) {
  Generator g(7);
  const int64_t n = kSteps * size * kPerRank;
  return data::TensorDataset({Tensor::randn({n, kT, 4}, dtype, g), Tensor::randint(0, 3, {n}, g)});
}

// 20 AdamW steps of `model` on `loader`, with `ddp` (or none) doing its work inside backward.
void train(nn::Module& model, const std::function<Tensor(const Tensor&)>& forward, data::DataLoader& loader) {
  optim::AdamW opt(model.parameters(), {.lr = 1e-2});
  for (data::Batch& b : loader) {
    opt.zero_grad();
    nn::cross_entropy(forward(b[0]), b[1]).backward();
    opt.step();
  }
}

// The largest over parameters of |a - b| / |b| (norms), and that parameter's name.
std::pair<double, std::string> relative_difference(const nn::Module& a, const nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  std::pair<double, std::string> worst{0, ""};
  for (size_t i = 0; i < pa.size(); ++i) {
    const double diff = std::sqrt((pa[i].second - pb[i].second).pow(2).sum().item());
    const double norm = std::sqrt(pb[i].second.pow(2).sum().item());
    if (diff / norm > worst.first) worst = {diff / norm, pa[i].first};
  }
  return worst;
}

template <class Model>
void same_as_one_process(DType dtype, DDPOptions options) {
  const ProcessGroup world = ProcessGroup::world();
  const int size = world.size(), rank = world.rank();
  const data::TensorDataset ds = make_data(size, dtype);

  // One process, the whole batch of size * kPerRank. Its weights are what rank 0's
  // seed gives; the distributed model starts from rank 0's weights too.
  manual_seed(100);
  auto reference = std::make_shared<Model>();
  reference->to(dtype);
  data::DataLoader whole(ds, {.batch_size = size * kPerRank});
  train(*reference, [&](const Tensor& x) { return reference->forward(x); }, whole);

  // Every rank: its own seed (DDP must replace those weights by rank 0's), its
  // shard of each batch: positions rank, rank + size, ... of the sequential order.
  manual_seed(100 + static_cast<uint64_t>(rank));
  auto model = std::make_shared<Model>();
  model->to(dtype);
  DistributedDataParallel ddp(model, world, options);
  auto shard = std::make_shared<data::ShardSampler>(std::make_shared<data::SequentialSampler>(), rank, size);
  data::DataLoader mine(ds, {.batch_size = kPerRank, .sampler = shard});
  train(*model, [&](const Tensor& x) { return model->forward(x); }, mine);

  const auto [diff, where] = relative_difference(*model, *reference);
  MESSAGE("rank " << rank << " of " << size << ": relative difference " << diff << " (in " << where << ") after "
                  << kSteps << " AdamW steps, " << ddp.bucket_names().size() << " buckets");
  CHECK(diff <= 1e-5);
  CHECK(diff > 0);  // (the sums are taken in another order: equal to the bit would be suspicious)
  // And every rank holds the same bits.
  for (const Tensor& p : model->parameters()) {
    Tensor root = p.clone();
    world.broadcast(root, 0);
    CHECK(root.to_vector<double>() == p.to_vector<double>());
  }
}

}  // namespace

TEST_CASE("DDP: an LSTM model, shards of each batch, reaches the one-process parameters") {
  same_as_one_process<LstmModel>(kFloat32, {});
}

// In float64. The key part of in_proj_bias has a gradient of exactly 0 in exact
// arithmetic (adding b to every key adds q.b to every score of a query, and a
// softmax ignores a constant), so in float32 what backward computes there is
// rounding noise, about 1e-9, whose sign depends on the order of the sums. Adam
// divides by the gradient's own scale, which turns that noise into steps of
// about lr * g / eps, different for any two summation orders (one process or
// two, heed or PyTorch): 1e-2 relative after 20 steps. In float64 the noise is
// 1e-18 and its steps vanish, and the comparison sees what DDP does.
TEST_CASE("DDP: a Transformer model, with buckets of 1 KB (many all-reduces in flight), the same") {
  same_as_one_process<TransformerModel>(kFloat64, {.bucket_cap_mb = 1.0 / 1024, .first_bucket_cap_mb = 1.0 / 1024});
}

TEST_CASE("DDP: buckets in reverse registration order, the first one small") {
  auto model = std::make_shared<TransformerModel>();
  DistributedDataParallel ddp(model, ProcessGroup::world(), {.bucket_cap_mb = 4.0 / 1024, .first_bucket_cap_mb = 0.1 / 1024});
  const auto buckets = ddp.bucket_names();
  REQUIRE(buckets.size() >= 3);
  CHECK(buckets.front() == std::vector<std::string>{"head.bias"});  // 12 bytes: alone under a 102-byte cap
  CHECK(buckets.back().back() == "embed.weight");                     // registered first, reduced last
  size_t names = 0;
  for (const auto& b : buckets) names += b.size();
  CHECK(names == model->parameters().size());
}

TEST_CASE("DDP: no_sync accumulates locally; the next backward averages the whole sum") {
  const ProcessGroup world = ProcessGroup::world();
  const int rank = world.rank(), size = world.size();
  manual_seed(3);
  auto model = std::make_shared<LstmModel>();
  DistributedDataParallel ddp(model, world);
  Generator g(11 + static_cast<uint64_t>(rank));  // each rank its own data
  Tensor x1 = Tensor::randn({2, kT, 4}, kFloat32, g), x2 = Tensor::randn({2, kT, 4}, kFloat32, g);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  {
    auto guard = ddp.no_sync();
    nn::cross_entropy(model->forward(x1), y).backward();
  }
  Tensor local_after_first = model->head->weight.grad().clone();
  nn::cross_entropy(model->forward(x2), y).backward();
  Tensor averaged = model->head->weight.grad().clone();

  // By hand: each rank's sum of both gradients, averaged over the ranks.
  model->zero_grad();
  {
    auto guard = ddp.no_sync();
    nn::cross_entropy(model->forward(x1), y).backward();
    CHECK(model->head->weight.grad().to_vector() == local_after_first.to_vector());  // nothing was sent
    nn::cross_entropy(model->forward(x2), y).backward();
  }
  Tensor expected = model->head->weight.grad().clone();
  world.allreduce(expected, ReduceOp::kAverage);
  CHECK(averaged.to_vector() == expected.to_vector());
  (void)size;
}

TEST_CASE("DDP: after a backward that threw on every rank, the next backward averages as usual") {
  const ProcessGroup world = ProcessGroup::world();
  manual_seed(4);
  auto model = std::make_shared<LstmModel>();
  // Small buckets: the head's gradients are sent before the throw, the LSTM's never.
  DistributedDataParallel ddp(model, world, {.bucket_cap_mb = 1.0 / 1024, .first_bucket_cap_mb = 0.01 / 1024});
  REQUIRE(ddp.bucket_names().size() >= 3);
  Generator g(21 + static_cast<uint64_t>(world.rank()));
  Tensor x = Tensor::randn({2, kT, 4}, kFloat32, g);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  auto loss = [&](bool fail) {
    Tensor h = model->lstm->forward(x).output.select(1, -1);
    if (fail) h.register_hook([](const Tensor&) -> Tensor { throw ValueError("a failure inside backward"); });
    return nn::cross_entropy(model->head->forward(h), y);
  };
  CHECK_THROWS_WITH_AS(loss(true).backward(), doctest::Contains("a failure inside backward"), ValueError);

  model->zero_grad();
  loss(false).backward();
  std::vector<Tensor> averaged;
  for (const Tensor& p : model->parameters()) averaged.push_back(p.grad().clone());

  model->zero_grad();
  {
    auto guard = ddp.no_sync();
    loss(false).backward();
  }
  const std::vector<Tensor> params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor expected = params[i].grad().clone();
    world.allreduce(expected, ReduceOp::kAverage);
    CHECK(averaged[i].to_vector() == expected.to_vector());
  }
}

// An LSTM model with dropout, so that each rank's random stream matters.
struct DropoutModel : nn::Module {
  DropoutModel()
      : lstm(register_module("lstm", std::make_shared<nn::LSTM>(4, 8, nn::LSTMOptions{.batch_first = true}))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(0.3))),
        head(register_module("head", std::make_shared<nn::Linear>(8, 3))) {}
  Tensor forward(const Tensor& x) const { return head->forward(drop->forward(lstm->forward(x).output.select(1, -1))); }
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> head;
};

TEST_CASE("DDP: a run resumed from rank 0's checkpoint continues exactly, each rank with its own random stream") {
  const ProcessGroup world = ProcessGroup::world();
  const int size = world.size(), rank = world.rank();
  const data::TensorDataset ds = make_data(size, kFloat32);
  const std::string path = "ddp_resume.safetensors";

  // The run, built the same way each time: each rank's own seed (for dropout).
  struct Run {
    std::shared_ptr<DropoutModel> model = std::make_shared<DropoutModel>();
    std::unique_ptr<DistributedDataParallel> ddp;
    std::unique_ptr<optim::AdamW> opt;
    std::unique_ptr<data::DataLoader> loader;
    optim::TrainingState state() { return {.model = model.get(), .optimizer = opt.get(), .loader = loader.get()}; }
    std::vector<float> steps(int64_t n) {  // n steps: each one's loss, on this rank
      std::vector<float> losses;
      while (static_cast<int64_t>(losses.size()) < n)
        for (data::Batch& b : *loader) {
          opt->zero_grad();
          Tensor loss = nn::cross_entropy(model->forward(b[0]), b[1]);
          loss.backward();
          opt->step();
          losses.push_back(static_cast<float>(loss.item()));
          if (static_cast<int64_t>(losses.size()) == n) break;
        }
      return losses;
    }
  };
  auto make_run = [&](uint64_t seed) {
    manual_seed(seed + static_cast<uint64_t>(rank));
    Run r;
    r.ddp = std::make_unique<DistributedDataParallel>(r.model, world);
    r.opt = std::make_unique<optim::AdamW>(r.model->parameters(), optim::AdamWOptions{.lr = 1e-2});
    auto shard = std::make_shared<data::ShardSampler>(std::make_shared<data::RandomSampler>(5), rank, size);
    r.loader = std::make_unique<data::DataLoader>(ds, data::LoaderOptions{.batch_size = kPerRank, .sampler = shard});
    return r;
  };

  Run straight = make_run(300);
  const std::vector<float> twenty = straight.steps(20);

  Run first = make_run(300);
  const std::vector<float> ten = first.steps(10);
  optim::TrainingState saved = first.state();
  saved.step = 10;
  save_training_state(world, saved, path, {{"note", "half way"}});

  Run second = make_run(900);  // other weights and random streams, until the load
  optim::TrainingState loaded = second.state();
  std::map<std::string, std::string> extra;
  load_training_state(world, loaded, path, &extra);
  CHECK(loaded.step == 10);
  CHECK(extra == std::map<std::string, std::string>{{"note", "half way"}});
  std::vector<float> resumed = ten;
  for (float l : second.steps(10)) resumed.push_back(l);
  CHECK(resumed == twenty);  // bit for bit, on every rank
}

TEST_CASE("DDP: a parameter that receives no gradient is a clear error") {
  manual_seed(5);
  auto model = std::make_shared<LstmModel>();
  DistributedDataParallel ddp(model, ProcessGroup::world());
  Tensor x = Tensor::randn({2, kT, 4});
  // The head is skipped: its weight and bias get no gradient.
  Tensor loss = model->lstm->forward(x).output.sum();
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("'head.bias', 'head.weight' received no gradient"),
                       ValueError);
}

int main(int argc, char** argv) {
  Environment mpi(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
