// Terminal output for the examples: small attention maps drawn with shaded
// characters, and a progress bar for training loops.
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
//
//   ProgressBar bar(steps, "train");
//   for (int64_t step = 1; step <= steps; ++step) { ...; bar.update(step, loss.item()); }
//   bar.finish();
#pragma once

#include <chrono>
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

// One status line for a training loop:
//
//   train [██████████░░░░░░░░░░]  450/1000  45%  loss 0.1234  312.5 steps/s  ETA 3.2s
//
// On a terminal the line is redrawn in place ('\r'), at most ten times a second,
// and cut to the terminal's width (a wrapped line would break the redraw).
// Elsewhere (a log file, a pipe, ctest) '\r' would pile up as garbage, so it prints
// a plain line at the first step and then at every tenth of the way instead.
class ProgressBar {
 public:
  enum class Mode {
    Auto,  // Live when out is std::cout or std::cerr and that stream is a terminal, else Plain
    Live,  // redraw one line in place
    Plain, // a new line every 10%
  };

  // total: the number of steps (> 0). out: where the line goes.
  explicit ProgressBar(int64_t total, std::string label = "train", std::ostream& out = std::cout,
                       Mode mode = Mode::Auto);
  ~ProgressBar();  // finishes the line if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // step: how many steps are done (1..total); loss: the latest loss to show.
  void update(int64_t step, double loss);
  // Prints the final line (with the total time instead of the ETA) and a newline.
  void finish();

  bool live() const { return live_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string status_line(bool done) const;
  void draw(bool done);

  int64_t total_;
  std::string label_;
  std::ostream& out_;
  bool live_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  int64_t step_ = 0;
  double loss_ = 0;
  bool has_loss_ = false;
  int64_t last_printed_step_ = -1;  // Plain mode: the step of the last line printed
  int64_t last_tenth_ = -1;         // Plain mode: the tenth of the way last printed
  size_t last_width_ = 0;           // Live mode: to blank out a longer previous line
  size_t columns_ = 0;              // Live mode on a terminal: its width (0: unknown, no limit)
  bool finished_ = false;
};

}  // namespace examples
