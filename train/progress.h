// A progress bar for training loops, with live metrics:
//
//   ProgressBar bar(steps, "train");
//   for (int64_t step = 1; step <= steps; ++step) {
//     ...
//     bar.update(step, {{"loss", loss.item()}, {"lr", opt.lr()}});
//   }
//   bar.finish();
//
//   train [██████████░░░░░░░░░░]  450/1000  45%  loss 0.1234  lr 0.0003  312.5 steps/s  ETA 3.2s
//
// On a terminal the line is redrawn in place ('\r'), at most ten times a second,
// and cut to the terminal's width (a wrapped line would break the redraw).
// Elsewhere (a log file, a pipe, ctest) '\r' would pile up as garbage, so it
// prints a plain line at the first step and then at every tenth of the way.
#pragma once

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace heed {

// Named numbers, in the order they are shown (and logged: train/metrics_log.h).
using Metrics = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  enum class Mode {
    Auto,   // Live when out is std::cout or std::cerr and that stream is a terminal, else Plain
    Live,   // redraw one line in place
    Plain,  // a new line every 10%
  };

  // total: the number of steps (> 0). out: where the line goes.
  explicit ProgressBar(int64_t total, std::string label = "train", std::ostream& out = std::cout,
                       Mode mode = Mode::Auto);
  ~ProgressBar();  // finishes the line if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // step: how many steps are done (0..total); metrics: the latest values to show.
  void update(int64_t step, const Metrics& metrics = {});
  void update(int64_t step, double loss) { update(step, {{"loss", loss}}); }
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
  Metrics metrics_;
  int64_t last_printed_step_ = -1;  // Plain mode: the step of the last line printed
  int64_t last_tenth_ = -1;         // Plain mode: the tenth of the way last printed
  size_t last_width_ = 0;           // Live mode: to blank out a longer previous line
  size_t columns_ = 0;              // Live mode on a terminal: its width (0: unknown, no limit)
  bool finished_ = false;
};

}  // namespace heed
