// --distributed: an example run as one process of an MPI job,
//
//   mpirun -np 2 ./build/examples/gpt --distributed     (as root: add --allow-run-as-root)
//
// trains the same model as one process would, with each rank on its share of
// every batch and DistributedDataParallel averaging the gradients (docs
// chapter 13). Rank 0 prints, plots and writes the checkpoint; the others only
// train. --batch stays the whole batch: each of the N ranks takes batch / N of
// it, so the run's hyperparameters, and its result, do not depend on N.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>

#include "heed/heed.h"

namespace examples {

class Distributed {
 public:
  Distributed();
  ~Distributed();
  // Adds the --distributed flag.
  void add_option(CLI::App& app);
  // After parsing: with --distributed, starts MPI (an error if heed was built without it).
  void start(int& argc, char**& argv);

  bool on() const { return on_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool chief() const { return rank_ == 0; }  // the rank that prints and writes

  // This rank's part of a batch of `global` examples: global / size (which must divide).
  int64_t share(int64_t global) const;
  // `inner`'s order cut into this rank's share (positions rank, rank + size, ...);
  // `inner` itself when not distributed.
  std::shared_ptr<const heed::data::Sampler> sampler(std::shared_ptr<const heed::data::Sampler> inner) const;
  // Wraps the model in DistributedDataParallel (nothing when not distributed).
  void wrap(std::shared_ptr<heed::nn::Module> model);
  // The mean over the ranks of one number (a loss, for printing).
  double average(double value) const;
  // After an error this rank cannot go on from: ends every rank's process
  // (MPI_Abort), since the others may be waiting for this one in a collective.
  // Does nothing when not distributed.
  void abort_job() const;

 private:
  struct Impl;  // MPI's objects, where heed has its dist layer
  std::unique_ptr<Impl> impl_;
  bool on_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace examples
