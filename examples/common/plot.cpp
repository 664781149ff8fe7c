// Heatmaps and line plots drawn with Cairo (see plot.h).
//
// Each picture is made in two passes. The first measures: how wide are the
// row labels, the tick labels, the title? From that it lays out the margins,
// so nothing is clipped however long the labels are. The second draws onto a
// Cairo surface of exactly that size. Cairo writes the result into a string
// (PNG bytes or SVG text), and we write the string to the file ourselves, so
// every failure, Cairo's or the file system's, becomes one clear exception.
#include "common/plot.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <numbers>
#include <sstream>

#include "common/heatmap_input.h"
#include "heed/core/error.h"

namespace examples {
namespace {

using heed::IOError;
using heed::msg;
using heed::ValueError;

// ---- colours -------------------------------------------------------------------

struct Rgb {
  double r, g, b;
};

// matplotlib's "hot": red rises over the first 3/8 of the range, then green,
// then blue, so the map runs black -> red -> yellow -> white.
Rgb hot(double t) {
  auto ramp = [t](double from, double to) { return std::clamp((t - from) / (to - from), 0.0, 1.0); };
  return {ramp(0.0, 0.365079), ramp(0.365079, 0.746032), ramp(0.746032, 1.0)};
}

// viridis, sampled at nine evenly spaced points and interpolated linearly between them.
Rgb viridis(double t) {
  static const Rgb anchors[] = {
      {68, 1, 84},    {72, 40, 120},  {62, 73, 137},  {49, 104, 142}, {38, 130, 142},
      {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {253, 231, 37},
  };
  const int last = static_cast<int>(std::size(anchors)) - 1;
  double pos = std::clamp(t, 0.0, 1.0) * last;
  int i = std::min(static_cast<int>(pos), last - 1);
  double f = pos - i;
  const Rgb& a = anchors[i];
  const Rgb& b = anchors[i + 1];
  return {(a.r + f * (b.r - a.r)) / 255, (a.g + f * (b.g - a.g)) / 255, (a.b + f * (b.b - a.b)) / 255};
}

Rgb colour_at(Colormap map, double t) { return map == Colormap::Hot ? hot(t) : viridis(t); }

// Perceived brightness (Rec. 709 weights): decides black or white text on a cell.
double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

// matplotlib's default colour cycle ("tab10"), for the lines of a line plot.
Rgb series_colour(size_t i) {
  static const Rgb cycle[] = {
      {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28}, {0x94, 0x67, 0xbd},
      {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f}, {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
  };
  const Rgb& c = cycle[i % std::size(cycle)];
  return {c.r / 255, c.g / 255, c.b / 255};
}

// ---- numbers on axes -------------------------------------------------------------

// Ticks at round numbers: multiples of a step 1, 2 or 5 times a power of ten,
// the smallest such step that cuts [lo, hi] into at most about max_count pieces.
struct Ticks {
  std::vector<double> values;
  int decimals = 0;  // enough to tell neighbouring ticks apart
};

Ticks nice_ticks(double lo, double hi, int max_count) {
  double raw = (hi - lo) / std::max(1, max_count);
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  Ticks ticks;
  ticks.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  // Integer multiples of step, so 0.1 * 3 prints as 0.3 and never as 0.30000000000000004.
  for (double k = std::ceil(lo / step - 1e-9); k <= std::floor(hi / step + 1e-9); ++k)
    ticks.values.push_back(k * step == 0 ? 0.0 : k * step);  // no "-0"
  return ticks;
}

std::string fixed(double v, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << v;
  return out.str();
}

// "0.001", "100", "1e+06": the shortest form, for log-axis ticks that span decades.
std::string shortest(double v) {
  std::ostringstream out;
  out << std::setprecision(6) << v;
  return out.str();
}

// Ticks for a log axis whose ends are lo10 = log10(low) and hi10 = log10(high).
// Powers of ten when three or more fall in the range; otherwise 1, 2 and 5 times
// powers of ten; otherwise (less than a factor 2 of range) plain linear ticks.
std::vector<double> log_ticks(double lo10, double hi10) {
  std::vector<double> ticks;
  auto inside = [&](double v) { return std::log10(v) >= lo10 - 1e-9 && std::log10(v) <= hi10 + 1e-9; };
  int k_lo = static_cast<int>(std::floor(lo10)), k_hi = static_cast<int>(std::ceil(hi10));
  int stride = std::max(1, (k_hi - k_lo) / 8);  // a wide range shows every 2nd or 3rd decade
  for (int k = k_lo; k <= k_hi; k += stride)
    if (inside(std::pow(10.0, k))) ticks.push_back(std::pow(10.0, k));
  if (ticks.size() >= 3) return ticks;
  ticks.clear();
  for (int k = k_lo; k <= k_hi; ++k)
    for (double m : {1.0, 2.0, 5.0})
      if (inside(m * std::pow(10.0, k))) ticks.push_back(m * std::pow(10.0, k));
  if (ticks.size() >= 2) return ticks;
  return nice_ticks(std::pow(10.0, lo10), std::pow(10.0, hi10), 5).values;
}

// ---- output: the file format, the surface, the file ----------------------------------

enum class Format { Png, Svg };

Format format_of(const std::string& path, const char* who) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  if (ext == ".png") return Format::Png;
  if (ext == ".svg") return Format::Svg;
  throw ValueError(msg(who, ": '", path, "' has extension '", ext, "'; it must be .png or .svg"));
}

void check_cairo(cairo_status_t status, const char* who, const std::string& path) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw IOError(msg(who, ": drawing '", path, "' failed in Cairo: ", cairo_status_to_string(status)));
}

// Cairo hands its output over in chunks; this one appends them to a std::string.
cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void write_file(const std::string& path, const std::string& bytes, const char* who) {
  std::ofstream file(path, std::ios::binary);
  if (!file) throw IOError(msg(who, ": cannot open '", path, "' for writing (does its folder exist?)"));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) throw IOError(msg(who, ": writing '", path, "' failed (disk full?)"));
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Cairo draws SVG text as glyph outlines, so the picture looks the same on a
// machine without the font, but the words themselves are gone from the file.
// A <title> and <desc> put them back for screen readers, search and grep.
void add_svg_text(std::string& svg, const std::string& title, const std::string& description) {
  size_t open = svg.find("<svg");
  size_t end = open == std::string::npos ? open : svg.find('>', open);
  if (end == std::string::npos) return;  // not what Cairo writes; leave the file as drawn
  svg.insert(end + 1, "\n<title>" + xml_escape(title) + "</title>\n<desc>" + xml_escape(description) + "</desc>");
}

// The font every picture uses. Hinted metrics differ between the PNG and the SVG
// surfaces; turned off, text measures the same on both (and in the measuring pass).
void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  std::unique_ptr<cairo_font_options_t, decltype(&cairo_font_options_destroy)> options(
      cairo_font_options_create(), cairo_font_options_destroy);
  cairo_font_options_set_hint_metrics(options.get(), CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr, options.get());
}

// A Cairo surface and context of a fixed size that end as PNG bytes or SVG text.
// With no format it is a 1x1 scratch surface, used only to measure text.
class Canvas {
 public:
  Canvas() : Canvas(Format::Png, 1, 1, "") {}
  Canvas(Format format, int width, int height, std::string path) : format_(format), path_(std::move(path)) {
    surface_ = format == Format::Png
                   ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height)
                   : cairo_svg_surface_create_for_stream(append_to_string, &svg_, width, height);
    cr_ = cairo_create(surface_);
  }
  ~Canvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() const { return cr_; }

  // Finishes the drawing and returns the file's contents; checks Cairo's status
  // on the way (a failed allocation or drawing call leaves the surface in error).
  std::string finish(const char* who) {
    check_cairo(cairo_status(cr_), who, path_);
    if (format_ == Format::Svg) {
      cairo_surface_finish(surface_);  // SVG is written out here
      check_cairo(cairo_surface_status(surface_), who, path_);
      return svg_;
    }
    std::string png;
    check_cairo(cairo_surface_write_to_png_stream(surface_, append_to_string, &png), who, path_);
    return png;
  }

 private:
  Format format_;
  std::string path_;
  std::string svg_;  // declared before surface_: the SVG surface writes into it
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

// ---- text --------------------------------------------------------------------------

double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

double widest(cairo_t* cr, const std::vector<std::string>& labels) {
  double w = 0;
  for (const auto& s : labels) w = std::max(w, text_width(cr, s));
  return w;
}

enum class Align { Left, Center, Right };

// Draws s anchored at (x, y): aligned along the text by `align`, and centred
// across it on the font's ascent and descent (not the glyphs', so every label in
// a row shares one baseline). angle turns the text about the anchor; -pi/2 reads
// bottom to top.
void draw_text(cairo_t* cr, const std::string& s, double x, double y, Align align, double angle = 0) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = text_width(cr, s);
  double dx = align == Align::Left ? 0 : align == Align::Center ? -w / 2 : -w;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, dx, (fe.ascent - fe.descent) / 2);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

void set_colour(cairo_t* cr, Rgb c, double alpha = 1.0) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

const Rgb kInk{0.15, 0.15, 0.15};    // text and axes
const Rgb kGrid{0.88, 0.88, 0.88};   // grid lines
const Rgb kMissing{0.75, 0.75, 0.75};  // a NaN cell
constexpr double kMargin = 16;       // around the whole picture
constexpr double kTick = 4;          // tick mark length
constexpr double kGap = 5;           // between a tick and its label
constexpr double kTitleFont = 16;
constexpr double kCaptionFont = 13;  // axis captions and legend
constexpr int kMaxSide = 32000;      // Cairo's image surfaces stop at 32767 pixels a side

// ---- heatmap ---------------------------------------------------------------------------



// The value range the colours span: the user's vmin/vmax where given, else the
// finite data's min/max. A flat map (every value equal) gets a range around its value.
std::pair<double, double> colour_range(const std::vector<double>& values, const HeatmapOptions& opt) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (lo > hi) lo = 0, hi = 1;  // no finite value at all
  if (opt.vmin) lo = *opt.vmin;
  if (opt.vmax) hi = *opt.vmax;
  if (lo < hi) return {lo, hi};
  if (opt.vmin && !opt.vmax) return {lo, lo + 1};
  if (opt.vmax && !opt.vmin) return {hi - 1, hi};
  return {lo - 0.5, lo + 0.5};
}

// Where everything goes, in pixels. Computed once, from measured text.
struct HeatmapLayout {
  int64_t rows = 0, cols = 0;
  double cell = 0;
  double label_font = 0, value_font = 0;
  bool show_values = false;
  int value_decimals = 2;
  bool upright_cols = false;  // column labels turned to read bottom to top
  int64_t row_every = 1, col_every = 1;  // label every n-th row/column when cells are tiny
  double grid_x = 0, grid_y = 0;  // top-left corner of the cells
  double bar_x = 0, bar_h = 0;    // colour bar: left edge and height (top is grid_y)
  Ticks bar_ticks;
  double width = 0, height = 0;
};

constexpr double kBarWidth = 16;
constexpr double kBarFont = 11;  // colour bar tick labels: the same size however small the cells
constexpr double kBarGap = 20;  // between the cells and the colour bar

HeatmapLayout layout_heatmap(cairo_t* cr, int64_t rows, int64_t cols, const std::vector<std::string>& row_labels,
                             const std::vector<std::string>& col_labels, const std::vector<double>& values,
                             double lo, double hi, const HeatmapOptions& opt) {
  HeatmapLayout L;
  L.rows = rows, L.cols = cols;
  // Big cells for small maps, down to 14 px for long sequences.
  L.cell = opt.cell_size ? opt.cell_size : std::clamp(std::floor(560.0 / std::max(rows, cols)), 14.0, 56.0);
  L.label_font = std::clamp(L.cell * 0.6, 8.0, 13.0);
  set_font(cr, L.label_font);
  double row_w = widest(cr, row_labels);
  double col_w = widest(cr, col_labels);
  // Labels lie flat when each fits its cell; otherwise they stand up, and then
  // (like row labels) only every n-th is written if the cells are thinner than the text is tall.
  L.upright_cols = col_w > L.cell - 4;
  int64_t every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(L.label_font * 1.2 / L.cell)));
  L.row_every = every;
  L.col_every = L.upright_cols ? every : 1;
  double col_band = L.upright_cols ? col_w : L.label_font * 1.3;

  // Values in the cells: as many decimals as the largest value leaves room for.
  double max_abs = 0;
  for (double v : values)
    if (std::isfinite(v)) max_abs = std::max(max_abs, std::abs(v));
  L.value_decimals = max_abs < 10 ? 2 : max_abs < 100 ? 1 : 0;
  L.value_font = std::min(11.0, L.cell * 0.3);
  set_font(cr, L.value_font);
  double value_w = text_width(cr, fixed(-max_abs, L.value_decimals));  // the widest: with a sign
  L.show_values = opt.show_values && L.value_font >= 7 && value_w <= L.cell - 4;

  double grid_w = cols * L.cell, grid_h = rows * L.cell;
  L.bar_h = std::max(grid_h, 120.0);  // a 1-row map still gets a readable colour bar
  L.bar_ticks = nice_ticks(lo, hi, std::max(3, static_cast<int>(L.bar_h / 28)));  // a tick every 28+ px
  set_font(cr, kBarFont);
  double bar_label_w = 0;
  for (double v : L.bar_ticks.values)
    bar_label_w = std::max(bar_label_w, text_width(cr, fixed(v, L.bar_ticks.decimals)));
  double title_h = opt.title.empty() ? 0 : kTitleFont * 1.2 + 12;
  double y_caption_w = opt.y_label.empty() ? 0 : kCaptionFont * 1.2 + 8;
  double x_caption_h = opt.x_label.empty() ? 0 : kCaptionFont * 1.2 + 6;

  L.grid_x = std::round(kMargin + y_caption_w + row_w + kTick + kGap);
  L.grid_y = std::round(kMargin + title_h);
  L.bar_x = L.grid_x + grid_w + kBarGap;
  L.width = L.bar_x + kBarWidth + kTick + kGap + bar_label_w + kMargin;
  double below_grid = L.grid_y + grid_h + kTick + kGap + col_band + x_caption_h + kMargin;
  double below_bar = L.grid_y + L.bar_h + kBarFont + kMargin;  // the lowest tick label overhangs
  L.height = std::max(below_grid, below_bar);
  set_font(cr, kTitleFont, true);
  L.width = std::max(L.width, text_width(cr, opt.title) + 2 * kMargin);
  L.width = std::ceil(L.width), L.height = std::ceil(L.height);
  if (L.width > kMaxSide || L.height > kMaxSide)
    throw ValueError(msg("save_heatmap: a ", rows, " x ", cols, " map at ", L.cell, " px a cell would be ", L.width,
                         " x ", L.height, " pixels; pass a smaller cell_size or plot a slice"));
  return L;
}

void draw_cells(cairo_t* cr, const HeatmapLayout& L, const std::vector<double>& values, double lo, double hi,
                Colormap map) {
  for (int64_t r = 0; r < L.rows; ++r) {
    for (int64_t c = 0; c < L.cols; ++c) {
      double v = values[r * L.cols + c];
      double x = L.grid_x + c * L.cell, y = L.grid_y + r * L.cell;
      Rgb colour = std::isfinite(v) ? colour_at(map, (v - lo) / (hi - lo)) : kMissing;
      set_colour(cr, colour);
      cairo_rectangle(cr, x, y, L.cell, L.cell);
      cairo_fill(cr);
      if (!L.show_values || !std::isfinite(v)) continue;
      set_font(cr, L.value_font);
      set_colour(cr, luminance(colour) > 0.5 ? Rgb{0, 0, 0} : Rgb{1, 1, 1});
      draw_text(cr, fixed(v, L.value_decimals), x + L.cell / 2, y + L.cell / 2, Align::Center);
    }
  }
  set_colour(cr, kInk);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, L.grid_x - 0.5, L.grid_y - 0.5, L.cols * L.cell + 1, L.rows * L.cell + 1);
  cairo_stroke(cr);
}

void draw_axis_labels(cairo_t* cr, const HeatmapLayout& L, const std::vector<std::string>& row_labels,
                      const std::vector<std::string>& col_labels) {
  set_font(cr, L.label_font);
  set_colour(cr, kInk);
  cairo_set_line_width(cr, 1);
  for (int64_t r = 0; r < L.rows; r += L.row_every) {
    double y = L.grid_y + (r + 0.5) * L.cell;
    cairo_move_to(cr, L.grid_x - kTick, y);
    cairo_line_to(cr, L.grid_x, y);
    cairo_stroke(cr);
    draw_text(cr, row_labels[r], L.grid_x - kTick - kGap, y, Align::Right);
  }
  double grid_bottom = L.grid_y + L.rows * L.cell;
  for (int64_t c = 0; c < L.cols; c += L.col_every) {
    double x = L.grid_x + (c + 0.5) * L.cell;
    cairo_move_to(cr, x, grid_bottom);
    cairo_line_to(cr, x, grid_bottom + kTick);
    cairo_stroke(cr);
    double top = grid_bottom + kTick + kGap;
    if (L.upright_cols)
      draw_text(cr, col_labels[c], x, top, Align::Right, -std::numbers::pi / 2);  // ends at the tick
    else
      draw_text(cr, col_labels[c], x, top + L.label_font * 0.6, Align::Center);
  }
}

// A vertical bar shading from lo (bottom) to hi (top), with ticks on its right.
void draw_colour_bar(cairo_t* cr, const HeatmapLayout& L, double lo, double hi, Colormap map) {
  double top = L.grid_y, bottom = L.grid_y + L.bar_h;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bottom, 0, top);
  for (int i = 0; i <= 64; ++i) {  // 64 stops: the hot map's kinks stay sharp
    Rgb c = colour_at(map, i / 64.0);
    cairo_pattern_add_color_stop_rgb(gradient, i / 64.0, c.r, c.g, c.b);
  }
  cairo_set_source(cr, gradient);
  cairo_rectangle(cr, L.bar_x, top, kBarWidth, L.bar_h);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);

  set_colour(cr, kInk);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, L.bar_x - 0.5, top - 0.5, kBarWidth + 1, L.bar_h + 1);
  cairo_stroke(cr);
  set_font(cr, kBarFont);
  double right = L.bar_x + kBarWidth;
  const Ticks& ticks = L.bar_ticks;
  for (double v : ticks.values) {
    double y = bottom - (v - lo) / (hi - lo) * L.bar_h;
    cairo_move_to(cr, right, y);
    cairo_line_to(cr, right + kTick, y);
    cairo_stroke(cr);
    draw_text(cr, fixed(v, ticks.decimals), right + kTick + kGap, y, Align::Left);
  }
}

void draw_heatmap_captions(cairo_t* cr, const HeatmapLayout& L, const HeatmapOptions& opt) {
  set_colour(cr, kInk);
  double grid_w = L.cols * L.cell, grid_h = L.rows * L.cell;
  if (!opt.title.empty()) {
    set_font(cr, kTitleFont, true);
    draw_text(cr, opt.title, L.width / 2, kMargin + kTitleFont * 0.6, Align::Center);
  }
  set_font(cr, kCaptionFont);
  if (!opt.y_label.empty())
    draw_text(cr, opt.y_label, kMargin + kCaptionFont * 0.6, L.grid_y + grid_h / 2, Align::Center,
              -std::numbers::pi / 2);
  if (!opt.x_label.empty())
    draw_text(cr, opt.x_label, L.grid_x + grid_w / 2, L.height - kMargin - kCaptionFont * 0.6, Align::Center);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "rows (output): je, suis, <eos>" for the SVG's description.
std::string axis_description(const std::string& axis, const std::string& caption,
                             const std::vector<std::string>& labels) {
  return axis + (caption.empty() ? "" : " (" + caption + ")") + ": " + join(labels);
}

// ---- line plot -----------------------------------------------------------------------

void check_line_input(const std::vector<Series>& series, const LinePlotOptions& opt) {
  const char* who = "save_line_plot";
  if (series.empty()) throw ValueError(msg(who, ": no series given; there is nothing to draw"));
  if (opt.width < 200 || opt.width > kMaxSide || opt.height < 150 || opt.height > kMaxSide)
    throw ValueError(msg(who, ": size ", opt.width, " x ", opt.height, " is outside 200..", kMaxSide, " x 150..",
                         kMaxSide, " pixels"));
  bool any_point = false;
  for (size_t s = 0; s < series.size(); ++s) {
    const Series& ser = series[s];
    if (!ser.x.empty() && ser.x.size() != ser.y.size())
      throw ValueError(msg(who, ": series ", s, " ('", ser.name, "') has ", ser.x.size(), " x values and ",
                           ser.y.size(), " y values; they must match (or leave x empty)"));
    for (size_t i = 0; i < ser.y.size(); ++i) {
      double x = ser.x.empty() ? static_cast<double>(i) : ser.x[i];
      if (!std::isfinite(ser.y[i]) || !std::isfinite(x)) continue;
      if (opt.log_y && ser.y[i] <= 0)
        throw ValueError(msg(who, ": series ", s, " ('", ser.name, "') has y[", i, "] = ", ser.y[i],
                             "; a log axis needs every y > 0"));
      any_point = true;
    }
  }
  if (!any_point) throw ValueError(msg(who, ": no series has a finite point; there is nothing to draw"));
}

// Maps data to pixels. y is in log10 when the axis is logarithmic.
struct Axes {
  double left, top, right, bottom;  // the plot box, in pixels
  double x_lo, x_hi, y_lo, y_hi;    // the data range it shows
  bool log_y;
  double px(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * (right - left); }
  double py(double y) const {
    double v = log_y ? std::log10(y) : y;
    return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top);
  }
};

// The finite data's extent, padded 5% on y (so a curve does not run along the
// frame); a single x or a flat y gets a range around it.
void fit_range(const std::vector<Series>& series, bool log_y, Axes& ax) {
  ax.x_lo = ax.y_lo = INFINITY, ax.x_hi = ax.y_hi = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.y.size(); ++i) {
      double x = s.x.empty() ? static_cast<double>(i) : s.x[i];
      if (!std::isfinite(x) || !std::isfinite(s.y[i])) continue;
      double y = log_y ? std::log10(s.y[i]) : s.y[i];
      ax.x_lo = std::min(ax.x_lo, x), ax.x_hi = std::max(ax.x_hi, x);
      ax.y_lo = std::min(ax.y_lo, y), ax.y_hi = std::max(ax.y_hi, y);
    }
  if (ax.x_lo == ax.x_hi) ax.x_lo -= 1, ax.x_hi += 1;
  if (ax.y_lo == ax.y_hi) ax.y_lo -= log_y ? 0.5 : std::max(1.0, std::abs(ax.y_lo) * 0.1),
                          ax.y_hi += log_y ? 0.5 : std::max(1.0, std::abs(ax.y_hi) * 0.1);
  double pad = 0.05 * (ax.y_hi - ax.y_lo);
  ax.y_lo -= pad, ax.y_hi += pad;
}

struct AxisTicks {
  std::vector<double> values;  // data values (not log10)
  std::vector<std::string> labels;
};

AxisTicks x_ticks(const Axes& ax, int max_count) {
  Ticks t = nice_ticks(ax.x_lo, ax.x_hi, max_count);
  AxisTicks out{t.values, {}};
  for (double v : t.values) out.labels.push_back(fixed(v, t.decimals));
  return out;
}

AxisTicks y_ticks(const Axes& ax, int max_count) {
  AxisTicks out;
  if (ax.log_y) {
    out.values = log_ticks(ax.y_lo, ax.y_hi);
    for (double v : out.values) out.labels.push_back(shortest(v));
  } else {
    Ticks t = nice_ticks(ax.y_lo, ax.y_hi, max_count);
    out.values = t.values;
    for (double v : t.values) out.labels.push_back(fixed(v, t.decimals));
  }
  return out;
}

void draw_frame_and_ticks(cairo_t* cr, const Axes& ax, const AxisTicks& xt, const AxisTicks& yt, double font) {
  cairo_set_line_width(cr, 1);
  set_colour(cr, kGrid);
  for (double v : xt.values) {
    double x = std::round(ax.px(v)) + 0.5;  // on the pixel centre: a crisp 1-px line
    cairo_move_to(cr, x, ax.top), cairo_line_to(cr, x, ax.bottom);
  }
  for (double v : yt.values) {
    double y = std::round(ax.py(v)) + 0.5;
    cairo_move_to(cr, ax.left, y), cairo_line_to(cr, ax.right, y);
  }
  cairo_stroke(cr);

  set_colour(cr, kInk);
  cairo_rectangle(cr, ax.left + 0.5, ax.top + 0.5, ax.right - ax.left, ax.bottom - ax.top);
  cairo_stroke(cr);
  set_font(cr, font);
  for (size_t i = 0; i < xt.values.size(); ++i) {
    double x = std::round(ax.px(xt.values[i])) + 0.5;
    cairo_move_to(cr, x, ax.bottom), cairo_line_to(cr, x, ax.bottom + kTick);
    cairo_stroke(cr);
    draw_text(cr, xt.labels[i], x, ax.bottom + kTick + kGap + font * 0.6, Align::Center);
  }
  for (size_t i = 0; i < yt.values.size(); ++i) {
    double y = std::round(ax.py(yt.values[i])) + 0.5;
    cairo_move_to(cr, ax.left - kTick, y), cairo_line_to(cr, ax.left, y);
    cairo_stroke(cr);
    draw_text(cr, yt.labels[i], ax.left - kTick - kGap, y, Align::Right);
  }
}

// Each series as one path; a non-finite point ends a piece and the next finite one
// starts a new piece. A piece of one point is drawn as a dot so it does not vanish.
void draw_series(cairo_t* cr, const Axes& ax, const std::vector<Series>& series) {
  cairo_save(cr);
  cairo_rectangle(cr, ax.left, ax.top, ax.right - ax.left, ax.bottom - ax.top);
  cairo_clip(cr);
  cairo_set_line_width(cr, 1.8);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  for (size_t s = 0; s < series.size(); ++s) {
    set_colour(cr, series_colour(s));
    int64_t piece = 0;  // points in the current piece
    for (size_t i = 0; i <= series[s].y.size(); ++i) {
      bool ok = i < series[s].y.size() && std::isfinite(series[s].y[i]) &&
                (series[s].x.empty() || std::isfinite(series[s].x[i]));
      if (ok) {
        double x = ax.px(series[s].x.empty() ? static_cast<double>(i) : series[s].x[i]);
        double y = ax.py(series[s].y[i]);
        if (piece++ == 0) cairo_move_to(cr, x, y);
        else cairo_line_to(cr, x, y);
        continue;
      }
      // The piece ends here. A lone point is a zero-length segment: with round caps
      // and a wider pen it shows as a dot.
      if (piece == 1) cairo_rel_line_to(cr, 0, 0), cairo_set_line_width(cr, 4);
      cairo_stroke(cr);
      cairo_set_line_width(cr, 1.8);
      piece = 0;
    }
  }
  cairo_restore(cr);
}

// Where the legend hides the least of the lines: of the four corners of the
// plot, the one whose box covers the fewest samples along the curves (each
// segment sampled at a few points, so a steep line between sparse points counts).
std::pair<double, double> legend_corner(const Axes& ax, const std::vector<Series>& series, double w, double h) {
  const double inset = 10;
  const std::pair<double, double> corners[] = {
      {ax.right - inset - w, ax.top + inset},     // top right first: on a tie, where people look
      {ax.left + inset, ax.top + inset},          // top left
      {ax.right - inset - w, ax.bottom - inset - h},  // bottom right
      {ax.left + inset, ax.bottom - inset - h},   // bottom left
  };
  int64_t hidden[4] = {0, 0, 0, 0};
  for (const Series& s : series) {
    double px_prev = NAN, py_prev = NAN;
    for (size_t i = 0; i < s.y.size(); ++i) {
      double xv = s.x.empty() ? static_cast<double>(i) : s.x[i];
      double px = NAN, py = NAN;
      if (std::isfinite(xv) && std::isfinite(s.y[i])) px = ax.px(xv), py = ax.py(s.y[i]);
      for (int k = 0; k < 4; ++k) {
        double f = k / 4.0;  // 0, 1/4, 1/2, 3/4 of the way from the previous point
        double sx = std::isnan(px_prev) ? px : px_prev + f * (px - px_prev);
        double sy = std::isnan(py_prev) ? py : py_prev + f * (py - py_prev);
        for (int c = 0; c < 4; ++c)
          if (sx >= corners[c].first && sx <= corners[c].first + w && sy >= corners[c].second &&
              sy <= corners[c].second + h)
            ++hidden[c];
      }
      px_prev = px, py_prev = py;
    }
  }
  return corners[std::min_element(hidden, hidden + 4) - hidden];
}

// A white box in the corner that hides the least: a short line in each series' colour and its name.
void draw_legend(cairo_t* cr, const Axes& ax, const std::vector<Series>& series) {
  set_font(cr, kCaptionFont);
  double name_w = 0;
  int entries = 0;
  for (const Series& s : series)
    if (!s.name.empty()) name_w = std::max(name_w, text_width(cr, s.name)), ++entries;
  if (entries == 0) return;
  const double swatch = 22, pad = 8, line_h = kCaptionFont * 1.5;
  double w = pad + swatch + 6 + name_w + pad, h = pad + entries * line_h + pad - (line_h - kCaptionFont);
  auto [x, y] = legend_corner(ax, series, w, h);
  cairo_rectangle(cr, x, y, w, h);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_fill_preserve(cr);
  set_colour(cr, {0.7, 0.7, 0.7});
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  double row_y = y + pad + kCaptionFont / 2;
  for (size_t s = 0; s < series.size(); ++s) {
    if (series[s].name.empty()) continue;
    set_colour(cr, series_colour(s));
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, x + pad, row_y), cairo_line_to(cr, x + pad + swatch, row_y);
    cairo_stroke(cr);
    set_colour(cr, kInk);
    draw_text(cr, series[s].name, x + pad + swatch + 6, row_y, Align::Left);
    row_y += line_h;
  }
}

}  // namespace

ImageSize save_heatmap(const std::string& path, const heed::Tensor& weights,
                       const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels,
                       const HeatmapOptions& options) {
  const char* who = "save_heatmap";
  Format format = format_of(path, who);
  check_heatmap_input("save_heatmap", weights, row_labels, col_labels, options.vmin, options.vmax);
  if (options.cell_size != 0 && (options.cell_size < 4 || options.cell_size > 400))
    throw ValueError(msg("save_heatmap: cell_size is ", options.cell_size,
                         "; it must be 0 (automatic) or 4..400 pixels"));
  int64_t rows = weights.size(0), cols = weights.size(1);
  std::vector<double> values = weights.detach().to_vector<double>();  // row-major, any dtype or strides
  std::vector<std::string> rl = labels_or_indices(row_labels, rows), cl = labels_or_indices(col_labels, cols);
  auto [lo, hi] = colour_range(values, options);

  Canvas measure;
  HeatmapLayout L = layout_heatmap(measure.cr(), rows, cols, rl, cl, values, lo, hi, options);
  Canvas canvas(format, static_cast<int>(L.width), static_cast<int>(L.height), path);
  cairo_t* cr = canvas.cr();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw_cells(cr, L, values, lo, hi, options.colormap);
  draw_axis_labels(cr, L, rl, cl);
  draw_colour_bar(cr, L, lo, hi, options.colormap);
  draw_heatmap_captions(cr, L, options);
  std::string bytes = canvas.finish(who);
  if (format == Format::Svg)
    add_svg_text(bytes, options.title.empty() ? "heatmap" : options.title,
                 axis_description("rows", options.y_label, rl) + "; " +
                     axis_description("columns", options.x_label, cl));
  write_file(path, bytes, who);
  return {static_cast<int>(L.width), static_cast<int>(L.height)};
}

ImageSize save_line_plot(const std::string& path, const std::vector<Series>& series,
                         const LinePlotOptions& options) {
  const char* who = "save_line_plot";
  Format format = format_of(path, who);
  check_line_input(series, options);
  const double font = 12;
  Axes ax{};
  ax.log_y = options.log_y;
  fit_range(series, options.log_y, ax);

  // The left margin depends on the widest y tick label; measure before drawing.
  Canvas measure;
  double plot_h_guess = options.height - 2 * kMargin - 60;
  AxisTicks yt = y_ticks(ax, std::max(2, static_cast<int>(plot_h_guess / 50)));
  set_font(measure.cr(), font);
  double title_h = options.title.empty() ? 0 : kTitleFont * 1.2 + 12;
  double caption = kCaptionFont * 1.2 + 6;
  ax.left = std::round(kMargin + (options.y_label.empty() ? 0 : caption) + widest(measure.cr(), yt.labels) +
                       kTick + kGap);
  ax.top = std::round(kMargin + title_h);
  ax.bottom = std::round(options.height - kMargin - (options.x_label.empty() ? 0 : caption) - font * 1.3 -
                         kTick - kGap);
  // The last x tick label is centred on the right edge: leave half a label of room.
  ax.right = std::round(options.width - kMargin - 20);
  AxisTicks xt = x_ticks(ax, std::max(2, static_cast<int>((ax.right - ax.left) / 90)));

  Canvas canvas(format, options.width, options.height, path);
  cairo_t* cr = canvas.cr();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw_frame_and_ticks(cr, ax, xt, yt, font);
  draw_series(cr, ax, series);
  draw_legend(cr, ax, series);
  set_colour(cr, kInk);
  if (!options.title.empty()) {
    set_font(cr, kTitleFont, true);
    draw_text(cr, options.title, (ax.left + ax.right) / 2, kMargin + kTitleFont * 0.6, Align::Center);
  }
  set_font(cr, kCaptionFont);
  if (!options.x_label.empty())
    draw_text(cr, options.x_label, (ax.left + ax.right) / 2, options.height - kMargin - kCaptionFont * 0.6,
              Align::Center);
  if (!options.y_label.empty())
    draw_text(cr, options.y_label + (options.log_y ? " (log scale)" : ""), kMargin + kCaptionFont * 0.6,
              (ax.top + ax.bottom) / 2, Align::Center, -std::numbers::pi / 2);
  std::string bytes = canvas.finish(who);
  if (format == Format::Svg) {
    std::vector<std::string> names;
    for (const Series& s : series) names.push_back(s.name);
    add_svg_text(bytes, options.title.empty() ? "line plot" : options.title,
                 options.y_label + " against " + options.x_label + "; series: " + join(names));
  }
  write_file(path, bytes, who);
  return {options.width, options.height};
}

bool file_written(const std::string& path) {
  std::error_code ec;  // a missing file is an answer (false), not an error
  return std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0 && !ec;
}

}  // namespace examples
