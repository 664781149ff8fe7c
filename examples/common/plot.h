// Pictures for the examples: attention heatmaps and loss curves, as PNG or SVG.
//
// This is support code for examples/, not part of heed: heed itself draws
// nothing and needs no Cairo. The drawing goes through Cairo (Debian's
// libcairo2-dev), which does the text, the PNG and the SVG for us.
//
//   using namespace examples;
//   Tensor weights = ...;                          // [T_out, T_in] attention weights
//   save_heatmap("out/attention.png", weights, {"le", "chat", "<eos>"}, {"the", "cat", "<eos>"},
//                {.title = "attention", .x_label = "source", .y_label = "output"});
//   save_line_plot("out/loss.svg", {{"train", steps, losses}}, {.title = "loss", .log_y = true});
//
// The format follows the file's extension: .png or .svg. Bad input (a tensor
// that is not 2-D, label counts that do not match its shape, an unknown
// extension) throws heed::ValueError; a file that cannot be written throws
// heed::IOError. Both messages name the function and what was wrong.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "heed/core/tensor.h"

namespace examples {

// What a save_* function drew: pixels for a PNG, points (1/72 inch) for an SVG.
struct ImageSize {
  int width = 0, height = 0;
};

// How a value in [vmin, vmax] becomes a colour.
enum class Colormap {
  Hot,      // black -> red -> yellow -> white (matplotlib's "hot"): bright = large
  Viridis,  // dark purple -> blue -> green -> yellow: even steps look evenly different
};

struct HeatmapOptions {
  std::string title;
  std::string x_label;  // caption under the column labels, e.g. "source tokens"
  std::string y_label;  // caption left of the row labels, e.g. "output tokens"
  Colormap colormap = Colormap::Hot;
  // The value range the colours span; unset means the data's own min and max.
  // Attention weights read best with vmin = 0, vmax = 1 (a full bar is "all of it").
  std::optional<double> vmin, vmax;
  bool show_values = true;  // write each value in its cell where the cell is big enough
  int cell_size = 0;        // pixels per cell; 0 picks one from the map's size
};

// Draws weights [R, C] as a grid of coloured cells: row r is labelled row_labels[r]
// on the left, column c is labelled col_labels[c] below (turned upright when the
// labels are too wide to lie flat). A colour bar with tick values sits on the right.
// An empty label list numbers that axis 0, 1, 2, ...  Non-finite values are drawn grey.
// Returns the picture's size in pixels (PNG) or points (SVG).
ImageSize save_heatmap(const std::string& path, const heed::Tensor& weights,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& col_labels, const HeatmapOptions& options = {});

// One line of a line plot. x may be empty: the points are then at x = 0, 1, 2, ...
// Non-finite y values (a loss that blew up) leave a gap in the line.
struct Series {
  std::string name;  // shown in the legend; empty names leave the series out of it
  std::vector<double> x;
  std::vector<double> y;
};

struct LinePlotOptions {
  std::string title;
  std::string x_label = "step";
  std::string y_label = "loss";
  bool log_y = false;  // losses often fall by decades: a log axis shows the late progress
  int width = 800;
  int height = 500;
};

// Draws each series as a line, with axes, ticks, grid lines and a legend.
ImageSize save_line_plot(const std::string& path, const std::vector<Series>& series,
                         const LinePlotOptions& options = {});

// True when path exists and is not empty: the examples' --check modes use it to
// confirm that the pictures they promise were written.
bool file_written(const std::string& path);

}  // namespace examples
