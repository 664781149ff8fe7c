// Shaded-character heatmaps and the training progress bar (see terminal.h).
#include "common/terminal.h"

#include <sys/ioctl.h>  // the terminal's width
#include <unistd.h>     // isatty

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/heatmap_input.h"
#include "heed/core/error.h"

namespace examples {
namespace {

using heed::msg;
using heed::ValueError;

// ---- UTF-8 text in fixed-width columns -------------------------------------------
//
// Labels may hold UTF-8 ("été", "█"): a character can take several bytes, so
// widths count code points, not bytes. (Every byte except the continuation bytes
// 10xxxxxx starts one.) Wide characters such as CJK, two columns each, are not handled.

size_t display_width(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// The first n code points of s.
std::string first_chars(const std::string& s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && count++ == n) return s.substr(0, i);
  }
  return s;
}

// s cut or padded to exactly `width` columns; a cut label ends in an ellipsis.
std::string fit(const std::string& s, size_t width, bool align_right, bool unicode) {
  std::string text = s;
  if (display_width(s) > width) text = first_chars(s, width - 1) + (unicode ? "…" : "~");
  std::string pad(width - display_width(text), ' ');
  return align_right ? pad + text : text + pad;
}



std::string fixed(double v, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << v;
  return out.str();
}

// "4.2s" under a minute, then "3:07", "1:02:03"
std::string clock_time(double seconds) {
  if (seconds < 59.95) return fixed(std::max(0.0, seconds), 1) + "s";
  auto s = static_cast<int64_t>(std::llround(seconds));
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << ':' << std::setw(2) << std::setfill('0') << (s / 60) % 60;
  else out << s / 60;
  out << ':' << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
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

// ---- progress bar -------------------------------------------------------------------------

ProgressBar::ProgressBar(int64_t total, std::string label, std::ostream& out, Mode mode)
    : total_(total), label_(std::move(label)), out_(out) {
  if (total <= 0) throw ValueError(msg("ProgressBar: total is ", total, "; it must be at least 1 step"));
  int fd = &out == &std::cout ? STDOUT_FILENO : &out == &std::cerr ? STDERR_FILENO : -1;
  bool terminal = fd >= 0 && isatty(fd);
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

void ProgressBar::update(int64_t step, double loss) {
  if (finished_) throw ValueError(msg("ProgressBar::update: the bar is already finished"));
  if (step < 0 || step > total_)
    throw ValueError(msg("ProgressBar::update: step is ", step, "; it must be in 0..", total_, " (the total)"));
  step_ = step, loss_ = loss, has_loss_ = true;
  if (live_) {
    // Redrawing costs a write to the terminal; ten times a second looks smooth.
    if (step == total_ || Clock::now() - last_draw_ >= std::chrono::milliseconds(100)) draw(false);
    return;
  }
  // The last step's line is left to finish(), which prints it with the total time.
  int64_t tenth = step * 10 / total_;
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
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  double rate = elapsed > 0 ? step_ / elapsed : 0;
  std::ostringstream line;
  line << label_;
  if (live_) {
    const int64_t width = 20;
    int64_t filled = step_ * width / total_;
    line << " [";
    for (int64_t i = 0; i < width; ++i) line << (i < filled ? "█" : "░");
    line << "]";
  }
  line << "  " << step_ << "/" << total_ << "  " << step_ * 100 / total_ << "%";
  if (has_loss_) line << "  loss " << std::setprecision(4) << loss_;
  line << "  " << fixed(rate, rate < 100 ? 1 : 0) << " steps/s";
  if (done) line << "  took " << clock_time(elapsed);
  else if (rate > 0) line << "  ETA " << clock_time((total_ - step_) / rate);
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
  size_t width = display_width(line);
  out_ << "\r" << line << std::string(last_width_ > width ? last_width_ - width : 0, ' ') << std::flush;
  last_width_ = width;
}

}  // namespace examples
