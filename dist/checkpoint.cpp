#include "heed/dist/checkpoint.h"

#include <algorithm>
#include <vector>

namespace heed::dist {

namespace {

// The metadata keys this file adds to the training state's (not "heed.": that
// prefix is the training state's own).
constexpr const char* kWorldKey = "heed_dist.world";
std::string rng_key(int rank) { return "heed_dist.rng." + std::to_string(rank); }

// Every rank's text, in rank order. Texts differ in length, and allgather wants
// one shape, so each travels as int64 codes padded to the longest.
std::vector<std::string> allgather_text(const ProcessGroup& group, const std::string& mine) {
  Tensor lengths = group.allgather(Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(mine.size())}, {1}));
  const std::vector<int64_t> sizes = lengths.to_vector<int64_t>();
  const int64_t longest = *std::max_element(sizes.begin(), sizes.end());
  std::vector<int64_t> codes(static_cast<size_t>(longest), 0);
  for (size_t i = 0; i < mine.size(); ++i) codes[i] = static_cast<unsigned char>(mine[i]);
  const std::vector<int64_t> all = group.allgather(Tensor::from_vector(codes, {longest})).to_vector<int64_t>();
  std::vector<std::string> out;
  for (int r = 0; r < group.size(); ++r) {
    std::string text;
    for (int64_t i = 0; i < sizes[static_cast<size_t>(r)]; ++i)
      text += static_cast<char>(all[static_cast<size_t>(r * longest + i)]);
    out.push_back(std::move(text));
  }
  return out;
}

// Makes a rank-local failure collective: every rank says whether it failed; if
// any did, every rank throws, with the first failing rank's message.
void agree(const ProcessGroup& group, const std::string& my_error, const char* what) {
  const std::vector<std::string> errors = allgather_text(group, my_error);
  for (int r = 0; r < group.size(); ++r)
    if (!errors[static_cast<size_t>(r)].empty())
      throw IOError(msg(what, ": rank ", r, ": ", errors[static_cast<size_t>(r)]));
}

}  // namespace

void save_training_state(const ProcessGroup& group, const optim::TrainingState& run, const std::string& path,
                         const std::map<std::string, std::string>& extra) {
  const std::vector<std::string> states = allgather_text(group, run.generator ? run.generator->get_state() : "");
  std::string error;
  if (group.rank() == 0) {
    std::map<std::string, std::string> meta = extra;
    meta[kWorldKey] = std::to_string(group.size());
    if (run.generator)
      for (int r = 0; r < group.size(); ++r) meta[rng_key(r)] = states[static_cast<size_t>(r)];
    try {
      optim::save_training_state(run, path, meta);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  // Also the barrier: when this returns, the file is complete for every rank to read.
  agree(group, error, "dist::save_training_state");
}

void load_training_state(const ProcessGroup& group, optim::TrainingState& run, const std::string& path,
                         std::map<std::string, std::string>* extra) {
  std::string error;
  try {
    std::map<std::string, std::string> file_meta;
    optim::load_training_state(run, path, &file_meta);  // all of it, the generator as rank 0's
    const auto world = file_meta.find(kWorldKey);
    if (world == file_meta.end() || world->second != std::to_string(group.size()))
      throw ValueError(msg(path, " was saved by a job of ", world == file_meta.end() ? "?" : world->second,
                           " processes; this one has ", group.size(), " (each rank's random stream is in the file)"));
    if (run.generator) {  // this rank's own stream
      const auto mine = file_meta.find(rng_key(group.rank()));
      if (mine == file_meta.end())
        throw ValueError(msg(path, " holds no random state for rank ", group.rank(), "; it was saved without a generator"));
      run.generator->set_state(mine->second);
    }
    if (extra) {
      extra->clear();
      for (const auto& [key, value] : file_meta)
        if (key.rfind("heed_dist.", 0) != 0) (*extra)[key] = value;
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(group, error, "dist::load_training_state");
}

}  // namespace heed::dist
