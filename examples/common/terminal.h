// Terminal output for the examples: small attention maps drawn with shaded
// characters. (The progress bar is heed's own: train/progress.h.)
//
// Support code for examples/, not part of heed.
//
//   Tensor w({{0.85, 0.1, 0.05}, {0.2, 0.7, 0.1}, {0.05, 0.05, 0.9}});
//   std::cout << ascii_heatmap(w, {"le", "chat", "<eos>"}, {"the", "cat", "<eos>"});
//
//          the   cat   <eos>
//      le  █████
//    chat        ▓▓▓▓▓
//   <eos>              █████
//   scale ' ░▒▓█' from 0.05 to 0.90
#pragma once

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "heed/core/tensor.h"

namespace examples {

struct TerminalHeatmapOptions {
  // ' ░▒▓█' needs a UTF-8 terminal; ' .:-=+*#%@' works anywhere (and has more levels).
  bool unicode = true;
  // The value range the shades span; unset means the data's own min and max.
  std::optional<double> vmin, vmax;
};

// weights [R, C] as text: a header line of column labels, one line per row
// (its label, then one shaded block per column, denser = larger), and a last
// line naming the scale: R + 2 lines, each ending in '\n'. Labels longer than a
// cell are cut short; an empty label list numbers that axis. Non-finite values
// show as '?'. Throws heed::ValueError for a non-2-D tensor or wrong label counts.
std::string ascii_heatmap(const heed::Tensor& weights, const std::vector<std::string>& row_labels,
                          const std::vector<std::string>& col_labels, const TerminalHeatmapOptions& options = {});

}  // namespace examples
