#include "heed/data/sampler.h"

#include <numeric>

#include "heed/core/error.h"
#include "heed/core/random.h"
#include "heed/core/tensor.h"

namespace heed::data {

std::vector<int64_t> SequentialSampler::indices(int64_t n, int64_t /*epoch*/) const {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

// splitmix64's finalizer: nearby inputs (seed 0 epoch 1, seed 1 epoch 0) give
// unrelated outputs, so no two (seed, epoch) pairs share a shuffle by accident.
static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<int64_t> RandomSampler::indices(int64_t n, int64_t epoch) const {
  Generator gen(mix(mix(seed_) + static_cast<uint64_t>(epoch)));
  Tensor perm = Tensor::randperm(n, gen);
  const int64_t* p = perm.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + n);
}

ShardSampler::ShardSampler(std::shared_ptr<const Sampler> inner, int64_t rank, int64_t world)
    : inner_(std::move(inner)), rank_(rank), world_(world) {
  if (!inner_) throw ValueError("ShardSampler: needs a sampler to shard");
  if (world_ < 1 || rank_ < 0 || rank_ >= world_)
    throw ValueError(msg("ShardSampler: rank ", rank_, " of world ", world_, "; need world >= 1 and 0 <= rank < world"));
}

std::vector<int64_t> ShardSampler::indices(int64_t n, int64_t epoch) const {
  const std::vector<int64_t> all = inner_->indices(n, epoch);
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(rank_); i < all.size(); i += static_cast<size_t>(world_)) mine.push_back(all[i]);
  return mine;
}

int64_t ShardSampler::length(int64_t n) const {
  const int64_t m = inner_->length(n);
  return m > rank_ ? (m - rank_ + world_ - 1) / world_ : 0;
}

}  // namespace heed::data
