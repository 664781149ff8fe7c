// What every example takes on its command line, and does before its work.
//
// Each example (README: "All take --seed, --steps, --out DIR and --check") adds
// its own options to a CLI11 app and these four through one call, so they are
// spelled and checked the same way everywhere:
//
//   CLI::App app{"what the example shows"};
//   uint64_t seed = 0;  int64_t steps = 300;  std::string out = "out/x";  bool check = false;
//   examples::add_common_options(app, seed, steps, out, check, "training steps", "verify ...; exit 1 if not");
//   CLI11_PARSE(app, argc, argv);
//   examples::prepare_run(seed, out);   // the folder made, heed's generator seeded
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace examples {

// --seed, --steps (a positive count; steps_help says of what), --out (a folder,
// created if missing) and --check (check_help says what is verified; an
// example exits 1 when a check fails), bound to the example's own variables,
// whose values are the defaults.
void add_common_options(CLI::App& app, uint64_t& seed, int64_t& steps, std::string& out, bool& check,
                        const std::string& steps_help, const std::string& check_help);

// After parsing: makes the output folder and seeds heed's global generator.
void prepare_run(uint64_t seed, const std::string& out);

}  // namespace examples
