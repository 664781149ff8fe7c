// Shaded-character heatmaps (see terminal.h).
#include "common/terminal.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/heatmap_input.h"
#include "heed/core/error.h"
#include "heed/train/text.h"

namespace examples {
namespace {

using heed::msg;
using heed::ValueError;
using heed::text::display_width;
using heed::text::first_chars;
using heed::text::fixed;

// Labels may hold UTF-8 ("été", "█"): widths count characters, not bytes (heed/train/text.h).

// s cut or padded to exactly `width` columns; a cut label ends in an ellipsis.
std::string fit(const std::string& s, size_t width, bool align_right, bool unicode) {
  std::string text = s;
  if (display_width(s) > width) text = first_chars(s, width - 1) + (unicode ? "…" : "~");
  std::string pad(width - display_width(text), ' ');
  return align_right ? pad + text : text + pad;
}

}  // namespace

// ---- heatmap ----------------------------------------------------------------------------

std::string ascii_heatmap(const heed::Tensor& weights, const std::vector<std::string>& row_labels,
                          const std::vector<std::string>& col_labels, const TerminalHeatmapOptions& options) {
  check_heatmap_input("ascii_heatmap", weights, row_labels, col_labels, options.vmin, options.vmax);
  const int64_t rows = weights.size(0), cols = weights.size(1);
  std::vector<double> values = weights.detach().to_vector<double>();
  std::vector<std::string> rl = labels_or_indices(row_labels, rows), cl = labels_or_indices(col_labels, cols);

  // The shades, lightest first. Each is one character (several bytes in UTF-8).
  static const std::vector<std::string> kUnicode = {" ", "░", "▒", "▓", "█"};
  static const std::vector<std::string> kAscii = {" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"};
  const std::vector<std::string>& shades = options.unicode ? kUnicode : kAscii;
  const int levels = static_cast<int>(shades.size());

  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (options.vmin) lo = *options.vmin;
  if (options.vmax) hi = *options.vmax;
  // Level k covers [k/levels, (k+1)/levels) of the range; the maximum gets the densest.
  auto shade = [&](double v) -> const std::string& {
    static const std::string kMissing = "?";
    if (!std::isfinite(v)) return kMissing;
    if (!(hi > lo)) return shades.back();  // a flat map: every cell is "the most"
    double t = std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
    return shades[std::min(levels - 1, static_cast<int>(t * levels))];
  };

  // A cell is as wide as the longest column label (2..6 characters), plus a space.
  size_t cell = 2;
  for (const auto& s : cl) cell = std::max(cell, display_width(s));
  cell = std::min<size_t>(cell, 6);
  size_t label_w = 0;
  for (const auto& s : rl) label_w = std::max(label_w, display_width(s));
  label_w = std::min<size_t>(label_w, 12);

  std::string out = std::string(label_w + 2, ' ');
  for (int64_t c = 0; c < cols; ++c) out += fit(cl[c], cell, false, options.unicode) + " ";
  out += "\n";
  for (int64_t r = 0; r < rows; ++r) {
    out += fit(rl[r], label_w, true, options.unicode) + "  ";
    for (int64_t c = 0; c < cols; ++c) {
      const std::string& s = shade(values[r * cols + c]);
      for (size_t k = 0; k < cell; ++k) out += s;
      out += " ";
    }
    out += "\n";
  }
  std::string scale;
  for (const auto& s : shades) scale += s;
  int decimals = std::abs(hi) < 10 && std::abs(lo) < 10 ? 2 : 1;
  out += "scale '" + scale + "' from " + fixed(lo, decimals) + " to " + fixed(hi, decimals) + "\n";
  return out;
}

}  // namespace examples
