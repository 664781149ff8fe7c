#include "common/options.h"

#include <filesystem>

#include "heed/core/random.h"

namespace examples {

void add_common_options(CLI::App& app, uint64_t& seed, int64_t& steps, std::string& out, bool& check,
                        const std::string& steps_help, const std::string& check_help) {
  app.add_option("--seed", seed, "seed for the weights and the data");
  app.add_option("--steps", steps, steps_help)->check(CLI::PositiveNumber);
  app.add_option("--out", out, "folder for the pictures (created if missing)");
  app.add_flag("--check", check, check_help);
}

void prepare_run(uint64_t seed, const std::string& out) {
  std::filesystem::create_directories(out);
  heed::manual_seed(seed);
}

}  // namespace examples
