// Tests for the examples' support library: pictures (plot.h) and terminal output
// (terminal.h). Kept out of heed_tests so the unit tests never need Cairo.
//
//   plot_test [--out DIR] [doctest options]
//
// The pictures go to DIR (default: a folder under the system's temp dir) and stay
// there, so a person can open them and judge how they look.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <cairo.h>

#include "common/plot.h"
#include "common/terminal.h"
#include "heed/heed.h"

namespace fs = std::filesystem;
using namespace examples;
using heed::Tensor;

namespace {

fs::path g_out_dir;

std::string out_path(const std::string& name) { return (g_out_dir / name).string(); }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A PNG starts with an 8-byte signature, then the IHDR chunk: length (4 bytes),
// "IHDR", width and height as big-endian 32-bit integers.
struct PngHeader {
  bool signature_ok = false;
  uint32_t width = 0, height = 0;
};

PngHeader read_png_header(const std::string& bytes) {
  PngHeader h;
  if (bytes.size() < 24) return h;
  h.signature_ok = bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && bytes.compare(12, 4, "IHDR") == 0;
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  h.width = be32(16), h.height = be32(20);
  return h;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A line's characters (UTF-8 code points), so column positions can be compared.
std::vector<std::string> code_points(const std::string& line) {
  std::vector<std::string> out;
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) out.emplace_back();
    out.back() += ch;
  }
  return out;
}

// An attention-like map: each row a softmax over the columns, peaked near the diagonal.
Tensor attention_map(int64_t rows, int64_t cols) {
  Tensor scores = Tensor::zeros({rows, cols});
  float* p = scores.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) p[r * cols + c] = -0.8f * std::abs(static_cast<float>(r * cols) / rows - c);
  return scores.softmax(1);
}

const std::vector<std::string> kSource = {"the", "agreement", "on", "the", "European", "Economic", "Area", "<eos>"};
const std::vector<std::string> kTarget = {"l'", "accord", "sur", "la", "zone", "économique", "européenne", "<eos>"};

}  // namespace

TEST_CASE("save_heatmap writes a PNG of the size it reports") {
  Tensor w = attention_map(4, 5);
  ImageSize size = save_heatmap(out_path("heatmap_small.png"), w, {"je", "suis", "étudiant", "<eos>"},
                                {"i", "am", "a", "student", "<eos>"},
                                {.title = "attention", .x_label = "source", .y_label = "output"});
  PngHeader h = read_png_header(read_file(out_path("heatmap_small.png")));
  CHECK(h.signature_ok);
  CHECK(h.width == static_cast<uint32_t>(size.width));
  CHECK(h.height == static_cast<uint32_t>(size.height));
  CHECK(size.width >= 5 * 56);  // a small map gets 56-pixel cells
  CHECK(size.height >= 4 * 56);

  SUBCASE("long labels, transposed (strided) input, viridis") {
    Tensor t = attention_map(8, 8).t();  // a view: strides swapped
    ImageSize s = save_heatmap(out_path("heatmap_long_labels.png"), t, kSource, kTarget,
                               {.title = "Bahdanau attention (transposed)", .x_label = "French",
                                .y_label = "English", .colormap = Colormap::Viridis, .vmin = 0.0, .vmax = 1.0});
    PngHeader hs = read_png_header(read_file(out_path("heatmap_long_labels.png")));
    CHECK(hs.signature_ok);
    CHECK(hs.width == static_cast<uint32_t>(s.width));
    CHECK(hs.height == static_cast<uint32_t>(s.height));
  }
  SUBCASE("a big map: small cells, no values, thinned labels, float64") {
    Tensor big = attention_map(40, 60).to(heed::kFloat64);
    ImageSize s = save_heatmap(out_path("heatmap_big.png"), big, {}, {}, {.title = "40 x 60"});
    CHECK(read_png_header(read_file(out_path("heatmap_big.png"))).width == static_cast<uint32_t>(s.width));
    CHECK(s.width >= 60 * 14);
  }
  SUBCASE("one row, a flat map, a NaN") {
    Tensor one = Tensor::from_vector(std::vector<double>{0.5, 0.5, NAN}, {1, 3});
    ImageSize s = save_heatmap(out_path("heatmap_one_row.png"), one, {"q"}, {"a", "b", "c"});
    CHECK(s.height >= 120);  // the colour bar keeps a readable height
  }
}

// The pixel at (x, y) of a PNG as 0xRRGGBB, read back with Cairo.
struct Pixels {
  explicit Pixels(const std::string& path) : surface(cairo_image_surface_create_from_png(path.c_str())) {}
  ~Pixels() { cairo_surface_destroy(surface); }
  bool ok() const { return cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(surface); }
  int height() const { return cairo_image_surface_get_height(surface); }
  uint32_t at(int x, int y) const {
    const unsigned char* row = cairo_image_surface_get_data(surface) + y * cairo_image_surface_get_stride(surface);
    return reinterpret_cast<const uint32_t*>(row)[x] & 0xFFFFFF;  // native-endian ARGB; drop alpha
  }
  cairo_surface_t* surface;
};

TEST_CASE("save_heatmap: row 0 on top, the 'hot' map runs black to white") {
  // [[0, 1], [1, 0]] at 100 px a cell: black cells top-left and bottom-right.
  Tensor w({{0.0, 1.0}, {1.0, 0.0}});
  save_heatmap(out_path("heatmap_pixels.png"), w, {"r0", "r1"}, {"c0", "c1"},
               {.show_values = false, .cell_size = 100});
  Pixels png(out_path("heatmap_pixels.png"));
  REQUIRE(png.ok());
  // The top-left cell is the first run of 100 pure black pixels (text is dark grey, never black).
  int x0 = -1, y0 = -1;
  for (int y = 0; y < png.height() && y0 < 0; ++y)
    for (int x = 0, run = 0; x < png.width(); ++x) {
      run = png.at(x, y) == 0x000000 ? run + 1 : 0;
      if (run == 100) {
        x0 = x - 99, y0 = y;
        break;
      }
    }
  REQUIRE(x0 >= 0);
  CHECK(png.at(x0 + 50, y0 + 50) == 0x000000);    // (0, 0) = 0: black
  CHECK(png.at(x0 + 150, y0 + 50) == 0xFFFFFF);   // (0, 1) = 1: white
  CHECK(png.at(x0 + 50, y0 + 150) == 0xFFFFFF);   // (1, 0) = 1
  CHECK(png.at(x0 + 150, y0 + 150) == 0x000000);  // (1, 1) = 0
  CHECK(png.at(x0 + 210, y0 + 50) == 0xFFFFFF);   // white background past the cells, before the colour bar
}

TEST_CASE("save_heatmap writes an SVG with the labels in it") {
  Tensor w = attention_map(3, 4);
  ImageSize size = save_heatmap(out_path("heatmap.svg"), w, {"le", "chat", "<eos>"}, {"the", "cat", "sat", "<eos>"},
                                {.title = "attention & more"});
  std::string svg = read_file(out_path("heatmap.svg"));
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("width=\"" + std::to_string(size.width) + "pt\"") != std::string::npos);
  CHECK(svg.find("<title>attention &amp; more</title>") != std::string::npos);
  for (const char* label : {"le", "chat", "&lt;eos&gt;", "the", "cat", "sat"})
    CHECK_MESSAGE(svg.find(label) != std::string::npos, label);
  // Cairo draws the text as glyph outlines: one <use> per glyph drawn.
  CHECK(count(svg, "xlink:href=\"#glyph") >= std::string("lechat<eos>thecatsat<eos>attention&more").size());
  CHECK(svg.find("</svg>") != std::string::npos);
}

TEST_CASE("save_line_plot draws loss curves") {
  std::vector<double> steps, train, valid;
  for (int i = 0; i <= 300; i += 5) {
    steps.push_back(i);
    train.push_back(2.5 * std::exp(-i / 60.0) + 0.02);
    valid.push_back(2.6 * std::exp(-i / 70.0) + 0.08 + 0.02 * std::sin(i / 9.0));
  }
  std::vector<Series> curves = {{"train", steps, train}, {"validation", steps, valid}};

  ImageSize size = save_line_plot(out_path("loss.png"), curves, {.title = "training loss"});
  PngHeader h = read_png_header(read_file(out_path("loss.png")));
  CHECK(h.signature_ok);
  CHECK(size.width == 800);
  CHECK(h.width == 800);
  CHECK(h.height == 500);

  SUBCASE("log y, a custom size, a gap where the loss is NaN") {
    curves[0].y[20] = NAN;
    save_line_plot(out_path("loss_log.png"), curves, {.title = "training loss (log)", .log_y = true,
                                                      .width = 640, .height = 400});
    PngHeader hl = read_png_header(read_file(out_path("loss_log.png")));
    CHECK(hl.width == 640);
    CHECK(hl.height == 400);
  }
  SUBCASE("SVG, x left out (points at 0, 1, 2, ...)") {
    save_line_plot(out_path("loss.svg"), {{"loss", {}, {3.0, 2.0, 1.5, 1.2, 1.1}}});
    std::string svg = read_file(out_path("loss.svg"));
    CHECK(svg.find("series: loss") != std::string::npos);
    CHECK(svg.find("height=\"500pt\"") != std::string::npos);
  }
}

TEST_CASE("ascii_heatmap shades the largest cell darkest") {
  // max at row 1, column 2
  Tensor w({{0.1, 0.2, 0.0, 0.3}, {0.0, 0.1, 0.9, 0.0}, {0.4, 0.0, 0.0, 0.5}});
  std::vector<std::string> rows = {"a", "bb", "ccc"}, cols = {"w", "x", "y", "z"};

  SUBCASE("unicode") {
    std::string text = ascii_heatmap(w, rows, cols);
    std::vector<std::string> lines = split_lines(text);
    REQUIRE(lines.size() == 3 + 2);  // header, one per row, scale
    CHECK(text.back() == '\n');
    // Row 1 is line 2. Its label is 3 wide plus 2 spaces; each cell is 2 wide plus a space.
    std::vector<std::string> cp = code_points(lines[2]);
    REQUIRE(cp.size() > 3 + 2 + 2 * 3 + 1);
    CHECK(cp[5 + 2 * 3] == "█");
    CHECK(cp[5 + 2 * 3 + 1] == "█");
    CHECK(count(text, "█") == 2 + 1);  // the max cell's two characters, and the scale line's
    CHECK(lines[0].find("w") != std::string::npos);
    CHECK(lines[4].find("from 0.00 to 0.90") != std::string::npos);
  }
  SUBCASE("ascii, transposed input") {
    std::string text = ascii_heatmap(w.t(), cols, rows, {.unicode = false});
    std::vector<std::string> lines = split_lines(text);
    REQUIRE(lines.size() == 4 + 2);
    // The max is now at row 2, column 1 (line 3). Label 1 wide; cells 3 wide ("ccc") plus a space.
    CHECK(lines[3].substr(1 + 2 + 1 * 4, 3) == "@@@");
    CHECK(count(text, "@") == 3 + 1);
  }
  SUBCASE("long labels are cut, NaN shows as '?'") {
    Tensor n = Tensor::from_vector(std::vector<double>{1, NAN}, {1, 2});
    std::string text = ascii_heatmap(n, {"a-very-long-row-label"}, {"European", "x"}, {.unicode = false});
    std::vector<std::string> lines = split_lines(text);
    CHECK(lines[0].find("Europ~") != std::string::npos);
    CHECK(lines[1].find("a-very-long~") != std::string::npos);
    CHECK(lines[1].find("??????") != std::string::npos);
  }
}

TEST_CASE("bad input throws clear errors") {
  Tensor w = Tensor::ones({2, 3});
  std::vector<std::string> two = {"a", "b"}, three = {"x", "y", "z"};
  auto throws = [](auto&& fn, const char* phrase) {
    try {
      fn();
    } catch (const heed::Error& e) {
      INFO("message: " << e.what());
      CHECK(std::string(e.what()).find(phrase) != std::string::npos);
      return true;
    }
    return false;
  };
  SUBCASE("heatmaps") {
    for (const std::string ext : {".png", ".svg"}) {
      CHECK_THROWS_AS(save_heatmap(out_path("x" + ext), Tensor::ones({2, 3, 4}), {}, {}), heed::ValueError);
      CHECK_THROWS_AS(save_heatmap(out_path("x" + ext), w, three, three), heed::ValueError);
      CHECK_THROWS_AS(save_heatmap(out_path("x" + ext), w, two, two), heed::ValueError);
      CHECK_THROWS_AS(save_heatmap(out_path("x" + ext), Tensor::ones({0, 3}), {}, {}), heed::ValueError);
      CHECK_THROWS_AS(save_heatmap(out_path("x" + ext), Tensor(), {}, {}), heed::ValueError);
      CHECK_THROWS_AS(save_heatmap(out_path("no/such/dir/x" + ext), w, two, three), heed::IOError);
    }
    CHECK(throws([&] { save_heatmap(out_path("x.png"), w, three, three); }, "3 row labels"));
    CHECK(throws([&] { save_heatmap(out_path("x.png"), Tensor::ones({4}), {}, {}); }, "must be 2-D"));
    CHECK(throws([&] { save_heatmap(out_path("x.jpg"), w, {}, {}); }, "must be .png or .svg"));
    CHECK(throws([&] { save_heatmap(out_path("no/such/dir/x.png"), w, {}, {}); }, "cannot open"));
    CHECK(throws([&] { save_heatmap(out_path("x.png"), w, {}, {}, {.vmin = 1.0, .vmax = 0.0}); }, "vmin"));
    CHECK(throws([&] { save_heatmap(out_path("x.png"), w, {}, {}, {.cell_size = 1}); }, "cell_size"));
    CHECK(throws([&] { save_heatmap(out_path("x.png"), Tensor::ones({5000, 2}), {}, {}); }, "smaller cell_size"));
    CHECK_FALSE(fs::exists(out_path("x.png")));  // nothing half-written on a failure
  }
  SUBCASE("line plots") {
    CHECK(throws([&] { save_line_plot(out_path("l.png"), {}); }, "no series"));
    CHECK(throws([&] { save_line_plot(out_path("l.png"), {{"a", {1, 2}, {1, 2, 3}}}); }, "2 x values and 3 y"));
    CHECK(throws([&] { save_line_plot(out_path("l.png"), {{"a", {}, {1, 0}}}, {.log_y = true}); }, "y > 0"));
    CHECK(throws([&] { save_line_plot(out_path("l.png"), {{"a", {}, {NAN}}}); }, "no series has a finite"));
    CHECK(throws([&] { save_line_plot(out_path("l.png"), {{"a", {}, {1}}}, {.width = 10}); }, "size 10 x"));
    CHECK(throws([&] { save_line_plot(out_path("no/such/dir/l.svg"), {{"a", {}, {1}}}); }, "cannot open"));
    CHECK_THROWS_AS(save_line_plot(out_path("no/such/dir/l.png"), {{"a", {}, {1}}}), heed::IOError);
  }
  SUBCASE("terminal") {
    CHECK(throws([&] { ascii_heatmap(w, two, two); }, "2 column labels"));
    CHECK(throws([&] { ascii_heatmap(Tensor::ones({2, 2, 2}), {}, {}); }, "must be 2-D"));
  }
}

int main(int argc, char** argv) {
  // Take --out DIR for ourselves; pass everything else to doctest.
  std::vector<char*> rest;
  g_out_dir = fs::temp_directory_path() / "heed_plot_test";
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--out" && i + 1 < argc) g_out_dir = argv[++i];
    else rest.push_back(argv[i]);
  }
  fs::create_directories(g_out_dir);
  fs::remove(g_out_dir / "x.png");  // the error tests check that no such file appears
  doctest::Context context(static_cast<int>(rest.size()), rest.data());
  return context.run();
}
