// Samplers: the order in which a DataLoader visits a dataset's examples.
//
// A sampler's order for an epoch is a function of (dataset size, epoch) alone.
// That is what makes a run resumable mid-epoch (the order can be computed again
// from the epoch number) and what lets every process of a distributed run agree
// on one shuffle without talking: each computes the same order and takes its share.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace heed::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The indices to visit in epoch `epoch` of a dataset of n examples.
  virtual std::vector<int64_t> indices(int64_t n, int64_t epoch) const = 0;
  // How many indices an epoch has, without drawing its order (a DataLoader's
  // size() asks). The default draws epoch 0's; a sampler that knows says so.
  virtual int64_t length(int64_t n) const { return static_cast<int64_t>(indices(n, 0).size()); }
};

// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  std::vector<int64_t> indices(int64_t n, int64_t epoch) const override;
  int64_t length(int64_t n) const override { return n; }
};

// A fresh shuffle of 0..n-1 each epoch: randperm(n) drawn from a generator
// seeded by (seed, epoch), so epoch e's order is the same in every run.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed = 0) : seed_(seed) {}
  std::vector<int64_t> indices(int64_t n, int64_t epoch) const override;
  int64_t length(int64_t n) const override { return n; }

 private:
  uint64_t seed_;
};

// One process's share of another sampler's order: positions rank, rank + world,
// rank + 2 world, ... So the `world` shards of one epoch are disjoint and together
// visit every index once; shards differ in length by at most one.
class ShardSampler : public Sampler {
 public:
  ShardSampler(std::shared_ptr<const Sampler> inner, int64_t rank, int64_t world);
  std::vector<int64_t> indices(int64_t n, int64_t epoch) const override;
  // Positions rank, rank + world, ... below the inner length m: ceil((m - rank) / world).
  int64_t length(int64_t n) const override;

 private:
  std::shared_ptr<const Sampler> inner_;
  int64_t rank_, world_;
};

}  // namespace heed::data
