// What both heatmaps (save_heatmap in plot.h, ascii_heatmap in terminal.h) ask
// of their input, written once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "heed/core/tensor.h"

namespace examples {

// The labels as given, or "0", "1", ... when there are none.
std::vector<std::string> labels_or_indices(const std::vector<std::string>& labels, int64_t n);

// Throws a ValueError naming `who` unless w is a non-empty 2-D tensor with one
// label per row and per column (or none) and vmin < vmax when both are given.
void check_heatmap_input(const char* who, const heed::Tensor& w, const std::vector<std::string>& rows,
                         const std::vector<std::string>& cols, std::optional<double> vmin,
                         std::optional<double> vmax);

}  // namespace examples
