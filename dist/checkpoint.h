// A distributed run's training state in one file: rank 0 writes it, every rank
// reads it (a file system all ranks see: one machine, or a shared one).
//
//   dist::save_training_state(world, run, "run.safetensors");   // on every rank
//   dist::load_training_state(world, run, "run.safetensors");   // on every rank, in a new job
//
// Under DistributedDataParallel the ranks hold the same weights, optimizer state
// and schedule, and their loaders stand at the same position (they step in
// lockstep), so rank 0's copy of those is everyone's. What differs is each
// rank's random generator (dropout draws its own masks on each rank): every
// rank's state is gathered into the file, and each rank gets its own back, so
// the resumed run continues exactly. Both calls are collective: every rank must
// make them, and an error on any rank (a failed write, a missing file) is
// thrown on every rank.
#pragma once

#include <map>
#include <string>

#include "heed/dist/process_group.h"
#include "heed/optim/training_state.h"

namespace heed::dist {

void save_training_state(const ProcessGroup& group, const optim::TrainingState& run, const std::string& path,
                         const std::map<std::string, std::string>& extra = {});

// The file must come from a job of the same size (each rank's generator state is
// in it); run.step and the parts as optim::load_training_state. A file from a
// job of another size is refused after its parts were read: stop the run.
void load_training_state(const ProcessGroup& group, optim::TrainingState& run, const std::string& path,
                         std::map<std::string, std::string>* extra = nullptr);

}  // namespace heed::dist
