#include "heed/optim/training_state.h"

#include <functional>
#include <sstream>
#include <vector>

#include "heed/autograd/grad_mode.h"
#include "heed/core/error.h"
#include "heed/nn/serialize.h"

namespace heed::optim {

namespace {

constexpr const char* kFormat = "heed training state 1";

// One part of a run: its name (the prefix of its tensors' keys), whether the
// run has it, and how to read and write its state dict.
struct Part {
  std::string name;
  bool present;
  std::function<StateDict()> save;
  std::function<void(const StateDict&)> load;
};

std::vector<Part> parts_of(const TrainingState& run) {
  std::vector<Part> parts;
  auto add = [&](const char* name, auto* object) {
    parts.push_back({name, object != nullptr, [object] { return object->state_dict(); },
                     [object](const StateDict& s) { object->load_state_dict(s); }});
  };
  add("model", run.model);
  add("optimizer", run.optimizer);
  add("scheduler", run.scheduler);
  add("plateau", run.plateau);
  return parts;
}

// "3 17" -> {3, 17}; anything else is the file's fault.
data::LoaderState parse_loader(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  data::LoaderState s;
  if (!(in >> s.epoch >> s.batch) || !(in >> std::ws).eof())
    throw ValueError(msg("load_training_state: ", path, ": heed.loader is '", text, "'; expected 'epoch batch'"));
  return s;
}

int64_t parse_step(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  int64_t step = 0;
  if (!(in >> step) || !(in >> std::ws).eof() || step < 0)
    throw ValueError(msg("load_training_state: ", path, ": heed.step is '", text, "'; expected a count"));
  return step;
}

}  // namespace

void save_training_state(const TrainingState& run, const std::string& path,
                         const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : extra) {
    if (key.rfind("heed.", 0) == 0)
      throw ValueError(msg("save_training_state: the metadata key '", key, "' is heed's own; choose another"));
    meta[key] = value;
  }
  StateDict all;
  std::string names;
  for (const Part& part : parts_of(run)) {
    if (!part.present) continue;
    names += (names.empty() ? "" : " ") + part.name;
    for (const auto& [key, t] : part.save()) all.set(part.name + "." + key, t);
  }
  if (run.loader) names += " loader";
  if (run.generator) names += " rng";
  meta["heed.format"] = kFormat;
  meta["heed.parts"] = names;
  meta["heed.step"] = std::to_string(run.step);
  if (run.loader) meta["heed.loader"] = msg(run.loader->state().epoch, " ", run.loader->state().batch);
  if (run.generator) meta["heed.rng"] = run.generator->get_state();
  save_safetensors(all, path, meta);
}

void load_training_state(TrainingState& run, const std::string& path, std::map<std::string, std::string>* extra) {
  std::map<std::string, std::string> meta;
  const StateDict all = load_safetensors(path, &meta);
  auto meta_at = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw ValueError(msg("load_training_state: ", path, " has no '", key,
                           "' in its metadata; is it a training state saved by save_training_state?"));
    return it->second;
  };
  if (meta_at("heed.format") != kFormat)
    throw ValueError(msg("load_training_state: ", path, " is '", meta_at("heed.format"), "'; this heed reads '", kFormat, "'"));

  // The parts the file holds must be the parts this run has.
  std::vector<Part> parts = parts_of(run);
  std::string names;
  for (const Part& part : parts)
    if (part.present) names += (names.empty() ? "" : " ") + part.name;
  if (run.loader) names += " loader";
  if (run.generator) names += " rng";
  if (meta_at("heed.parts") != names)
    throw ValueError(msg("load_training_state: ", path, " holds [", meta_at("heed.parts"), "], this run has [", names,
                         "]; give the same parts as the run that saved it"));

  // Everything is parsed before anything changes.
  std::map<std::string, StateDict> dicts;
  for (const auto& [key, t] : all) {
    const size_t dot = key.find('.');
    dicts[dot == std::string::npos ? key : key.substr(0, dot)].set(dot == std::string::npos ? "" : key.substr(dot + 1), t);
  }
  for (const auto& [name, dict] : dicts) {
    bool known = false;
    for (const Part& part : parts) known = known || (part.present && part.name == name);
    if (!known) throw ValueError(msg("load_training_state: ", path, " has tensors under '", name, ".' that no part of this run takes"));
  }
  const int64_t step = parse_step(meta_at("heed.step"), path);
  const data::LoaderState position = run.loader ? parse_loader(meta_at("heed.loader"), path) : data::LoaderState{};
  const std::string rng = run.generator ? meta_at("heed.rng") : std::string();

  // All or nothing: what each part was, to put back if a later part refuses its state.
  // (A module's state dict aliases its parameters, so it is cloned; the others are fresh.)
  std::vector<StateDict> before;
  NoGradGuard no_grad;  // the clones are copies of values, not part of any graph
  for (const Part& part : parts) {
    StateDict snapshot;
    if (part.present)
      for (const auto& [key, t] : part.save()) snapshot.set(key, part.name == "model" ? t.clone() : t);
    before.push_back(snapshot);
  }
  const std::string rng_before = run.generator ? run.generator->get_state() : std::string();
  size_t loaded = 0;
  try {
    for (; loaded < parts.size(); ++loaded)
      if (parts[loaded].present) parts[loaded].load(dicts[parts[loaded].name]);
    if (run.generator) run.generator->set_state(rng);
    if (run.loader) run.loader->set_state(position);
  } catch (...) {
    for (size_t i = 0; i < loaded; ++i)
      if (parts[i].present) parts[i].load(before[i]);
    if (run.generator) run.generator->set_state(rng_before);
    throw;
  }
  run.step = step;
  if (extra) {
    extra->clear();
    for (const auto& [key, value] : meta)
      if (key.rfind("heed.", 0) != 0) (*extra)[key] = value;
  }
}

}  // namespace heed::optim
