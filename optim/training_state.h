// A training run's whole state in one file, so a stopped run continues exactly:
// the same losses, bit for bit, as if it had never stopped.
//
//   optim::TrainingState run{.model = &model, .optimizer = &opt, .scheduler = &sched, .loader = &loader};
//   ...
//   run.step = step;
//   optim::save_training_state(run, "run.safetensors");        // atomic: a crash keeps the old file
//   ...                                                        // a new process, built the same way:
//   optim::load_training_state(run, "run.safetensors");        // every part, and run.step
//
// What a run is: the model's parameters and buffers, the optimizer's moments,
// step counts and lrs, the scheduler's epoch, the loader's position in its epoch
// (its order is a function of the epoch, so the position is enough), the random
// generator's state (dropout's next masks), and the step count. The file is a
// safetensors file: tensors under model., optimizer., scheduler., plateau., and
// the rest as text in its __metadata__ (heed.step, heed.loader, heed.rng).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "heed/core/random.h"
#include "heed/data/loader.h"
#include "heed/nn/module.h"
#include "heed/optim/optimizer.h"
#include "heed/optim/plateau.h"
#include "heed/optim/scheduler.h"

namespace heed::optim {

// The parts of a run, by pointer; leave out (nullptr) the ones a run does not have.
struct TrainingState {
  nn::Module* model = nullptr;
  Optimizer* optimizer = nullptr;
  LRScheduler* scheduler = nullptr;
  ReduceLROnPlateau* plateau = nullptr;
  data::DataLoader* loader = nullptr;
  Generator* generator = &default_generator();
  int64_t step = 0;
};

// `extra` is yours: more metadata (a config, a note), read back by load_training_state.
void save_training_state(const TrainingState& run, const std::string& path,
                         const std::map<std::string, std::string>& extra = {});

// Loads every part `run` points at, and run.step. The file must hold exactly
// those parts: a scheduler in the file but none given, or given but not in the
// file, is a ValueError (dropping one silently would restart the schedule).
// All or nothing: if anything does not fit, every part is left as it was.
void load_training_state(TrainingState& run, const std::string& path,
                         std::map<std::string, std::string>* extra = nullptr);

}  // namespace heed::optim
