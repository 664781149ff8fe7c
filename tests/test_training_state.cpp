// save_training_state / load_training_state in one process: round trip, the
// parts rule, and all-or-nothing loading. (That a run resumed in a new process
// continues bit for bit is ctest's resume_training_exactly, tests/resume/.)
#include <filesystem>

#include "helpers.h"

using namespace heed;

namespace {

std::string temp_path(const char* name) { return (std::filesystem::temp_directory_path() / name).string(); }

}  // namespace

TEST_CASE("training state: every part round-trips, with the caller's metadata") {
  manual_seed(1);
  nn::Linear model(3, 2);
  optim::Adam opt(model.parameters(), {.lr = 0.1});
  optim::StepLR sched(opt, 2, 0.5);
  data::DataLoader loader(data::TensorDataset({Tensor::randn({10, 3})}), {.batch_size = 3, .shuffle = true});
  for ([[maybe_unused]] data::Batch& b : loader) break;  // the cursor at epoch 0, batch 1
  model(Tensor::randn({4, 3})).sum().backward();
  opt.step();
  sched.step();
  optim::TrainingState run{.model = &model, .optimizer = &opt, .scheduler = &sched, .loader = &loader, .step = 7};
  const std::string path = temp_path("heed_training_state.safetensors");
  optim::save_training_state(run, path, {{"config", "d=3"}});
  const std::string rng = get_rng_state();
  const std::vector<float> weight = model.weight.to_vector<float>();

  manual_seed(99);  // a different process, as far as every part can tell
  nn::Linear model2(3, 2);
  optim::Adam opt2(model2.parameters(), {.lr = 0.1});
  optim::StepLR sched2(opt2, 2, 0.5);
  data::DataLoader loader2(data::TensorDataset({Tensor::randn({10, 3})}), {.batch_size = 3, .shuffle = true});
  optim::TrainingState run2{.model = &model2, .optimizer = &opt2, .scheduler = &sched2, .loader = &loader2};
  std::map<std::string, std::string> extra;
  optim::load_training_state(run2, path, &extra);
  CHECK(run2.step == 7);
  CHECK(extra == std::map<std::string, std::string>{{"config", "d=3"}});
  CHECK(model2.weight.to_vector<float>() == weight);
  CHECK(opt2.state_dict().at("state.0.exp_avg").to_vector<float>() == opt.state_dict().at("state.0.exp_avg").to_vector<float>());
  CHECK(sched2.last_epoch() == 1);
  CHECK(loader2.state() == data::LoaderState{0, 1});
  CHECK(get_rng_state() == rng);
  std::filesystem::remove(path);
}

TEST_CASE("training state: the parts must match, and a failed load changes nothing") {
  manual_seed(2);
  nn::Linear model(3, 2);
  optim::SGD opt(model.parameters(), {.lr = 0.1});
  optim::StepLR sched(opt, 2);
  const std::string path = temp_path("heed_training_parts.safetensors");
  optim::TrainingState saved{.model = &model, .optimizer = &opt, .scheduler = &sched, .step = 3};
  optim::save_training_state(saved, path);

  nn::Linear model2(3, 2);
  optim::SGD opt2(model2.parameters(), {.lr = 0.1});
  optim::TrainingState no_scheduler{.model = &model2, .optimizer = &opt2};
  CHECK_THROWS_CONTAINING(optim::load_training_state(no_scheduler, path),
                          "holds [model optimizer scheduler rng], this run has [model optimizer rng]", ValueError);

  // The model fits, the optimizer does not (two groups here): nothing changes.
  nn::Linear model3(3, 2);
  optim::SGD opt3(std::vector<optim::SGD::Group>{{{model3.weight}, {.lr = 0.1}}, {{model3.bias}, {.lr = 0.1}}});
  optim::StepLR sched3(opt3, 2);
  const std::vector<float> before = model3.weight.to_vector<float>();
  manual_seed(5);
  const std::string rng = get_rng_state();
  optim::TrainingState mismatched{.model = &model3, .optimizer = &opt3, .scheduler = &sched3};
  CHECK_THROWS_AS(optim::load_training_state(mismatched, path), ValueError);
  CHECK(model3.weight.to_vector<float>() == before);
  CHECK(get_rng_state() == rng);
  CHECK(mismatched.step == 0);

  CHECK_THROWS_CONTAINING(optim::save_training_state(saved, path, {{"heed.step", "1"}}), "is heed's own", ValueError);
  save(model, path);  // a plain checkpoint, not a training state
  CHECK_THROWS_CONTAINING(optim::load_training_state(no_scheduler, path), "has no 'heed.format'", ValueError);
  std::filesystem::remove(path);
}
