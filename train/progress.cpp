#include "heed/train/progress.h"

#include <sys/ioctl.h>  // the terminal's width
#include <unistd.h>     // isatty

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "heed/core/error.h"
#include "heed/train/text.h"

using heed::text::clock_time;
using heed::text::display_width;
using heed::text::first_chars;
using heed::text::fixed;

namespace heed {

ProgressBar::ProgressBar(int64_t total, std::string label, std::ostream& out, Mode mode)
    : total_(total), label_(std::move(label)), out_(out) {
  if (total <= 0) throw ValueError(msg("ProgressBar: total is ", total, "; it must be at least 1 step"));
  const int fd = &out == &std::cout ? STDOUT_FILENO : &out == &std::cerr ? STDERR_FILENO : -1;
  const bool terminal = fd >= 0 && isatty(fd);
  live_ = mode == Mode::Live || (mode == Mode::Auto && terminal);
  // A line longer than the terminal wraps, and '\r' then returns to the wrapped
  // part only: every redraw would leave a line behind. So live lines are cut to fit.
  winsize size{};
  if (terminal && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) columns_ = size.ws_col;
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {  // a destructor must not throw; a lost last line is the lesser harm
  }
}

void ProgressBar::update(int64_t step, const Metrics& metrics) {
  if (finished_) throw ValueError("ProgressBar::update: the bar is already finished");
  if (step < 0 || step > total_)
    throw ValueError(msg("ProgressBar::update: step is ", step, "; it must be in 0..", total_, " (the total)"));
  step_ = step;
  // A metric keeps its place in the line; one not given this time shows its last value.
  for (const auto& metric : metrics) {  // (not a structured binding: clang 14 cannot capture one in a lambda)
    auto it = std::find_if(metrics_.begin(), metrics_.end(), [&](const auto& m) { return m.first == metric.first; });
    if (it == metrics_.end()) metrics_.push_back(metric);
    else it->second = metric.second;
  }
  if (live_) {
    // Redrawing costs a write to the terminal; ten times a second looks smooth.
    if (step == total_ || Clock::now() - last_draw_ >= std::chrono::milliseconds(100)) draw(false);
    return;
  }
  // The last step's line is left to finish(), which prints it with the total time.
  const int64_t tenth = step * 10 / total_;
  if (step < total_ && (last_printed_step_ < 0 || tenth > last_tenth_)) {
    last_tenth_ = tenth;
    draw(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (live_ || last_printed_step_ != step_) draw(true);
  if (live_) out_ << "\n" << std::flush;
}

// "train [████░░░░]  450/1000  45%  loss 0.1234  312.5 steps/s  ETA 3.2s"; when done,
// "took 12.0s" replaces the ETA.
std::string ProgressBar::status_line(bool done) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step_) / elapsed : 0;
  std::ostringstream line;
  line << label_;
  if (live_) {
    const int64_t width = 20;
    const int64_t filled = step_ * width / total_;
    line << " [";
    for (int64_t i = 0; i < width; ++i) line << (i < filled ? "█" : "░");
    line << "]";
  }
  line << "  " << step_ << "/" << total_ << "  " << step_ * 100 / total_ << "%";
  for (const auto& [name, value] : metrics_) line << "  " << name << " " << std::setprecision(4) << value;
  line << "  " << fixed(rate, rate < 100 ? 1 : 0) << " steps/s";
  if (done) line << "  took " << clock_time(elapsed);
  else if (rate > 0) line << "  ETA " << clock_time(static_cast<double>(total_ - step_) / rate);
  else line << "  ETA -";
  return line.str();
}

void ProgressBar::draw(bool done) {
  std::string line = status_line(done);
  last_draw_ = Clock::now();
  last_printed_step_ = step_;
  if (!live_) {
    out_ << line << "\n" << std::flush;
    return;
  }
  // '\r' returns to the line's start; spaces blank whatever a longer previous line left.
  if (columns_ > 0 && display_width(line) >= columns_) line = first_chars(line, columns_ - 1);
  const size_t width = display_width(line);
  out_ << "\r" << line << std::string(last_width_ > width ? last_width_ - width : 0, ' ') << std::flush;
  last_width_ = width;
}

}  // namespace heed
