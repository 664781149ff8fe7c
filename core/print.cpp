// Printing tensors the way PyTorch 1.13 prints them (torch/_tensor_str.py), so a
// heed session and a PyTorch session can be read side by side:
//
//   tensor([[ 0.1235, -1.2000],
//           [ 3.0000,  4.0000]], dtype=float64, grad_fn=<tanh>)
//
// The rules, in the order they are applied:
//  - More than 1000 elements: each dim longer than 6 shows only its first and
//    last 3 entries, with "..." between.
//  - One number format for the whole tensor, chosen from the shown nonzero finite
//    values: all integral -> "3." (the dot says "floating"); a spread over 1000x,
//    a value above 1e8 or below 1e-4 -> scientific "1.0000e-05"; else fixed "0.1235".
//    Every element is right-aligned to the widest, so the columns line up.
//  - A row wraps before 80 characters; inner lists are indented under their bracket.
//  - Suffixes: size=(...) for an empty tensor that is not 1-D; the dtype unless it
//    is float32 or int64 (the ones a literal would give); then grad_fn=<name> for
//    an op's result, or requires_grad=True for a leaf that asks for a gradient.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "heed/core/tensor.h"

namespace heed {

namespace {

constexpr int kPrecision = 4;          // digits after the point
constexpr int64_t kThreshold = 1000;   // more elements than this are summarized
constexpr int64_t kEdgeItems = 3;      // entries kept at each end of a summarized dim
constexpr int64_t kLineWidth = 80;
constexpr int64_t kEllipsis = -1;      // stands for "..." in a list of shown indices

// The indices shown along a dim of size n: all, or (when summarizing a long dim)
// the first and last kEdgeItems with kEllipsis between them.
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> out;
  bool cut = summarize && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      out.push_back(kEllipsis);
      i = n - kEdgeItems;
    }
    out.push_back(i);
  }
  return out;
}

// One number as Python's format() writes it. std::to_chars rounds exactly (like
// Python and unlike a naive loop) and ignores the locale; nan and inf are spelled
// out because C would write "-nan" for a nan with its sign bit set.
std::string number(double v, std::chars_format format, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[400];  // enough for any double in fixed notation
  auto end = std::to_chars(buf, buf + sizeof buf, v, format, precision).ptr;
  return std::string(buf, end);
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// How every element of one tensor is written: one format and one width for all.
class Formatter {
 public:
  static Formatter for_floats(const std::vector<double>& shown) {
    Formatter f;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    bool any = false;
    for (double v : shown) {
      if (v == 0 || !std::isfinite(v)) continue;  // zeros and nan/inf say nothing about scale
      any = true;
      lo = std::min(lo, std::abs(v));
      hi = std::max(hi, std::abs(v));
      if (v != std::ceil(v)) f.int_mode_ = false;
    }
    if (!any) return f;  // only zeros, nan, inf: "0.", "nan" at their natural widths
    f.sci_mode_ = hi / lo > 1000 || hi > 1e8 || (!f.int_mode_ && lo < 1e-4);
    for (double v : shown)
      if (v != 0 && std::isfinite(v)) f.width_ = std::max(f.width_, f.plain(v).size());
    return f;
  }

  static Formatter for_ints(const std::vector<int64_t>& shown) {
    Formatter f;
    for (int64_t v : shown) f.width_ = std::max(f.width_, std::to_string(v).size());
    return f;
  }

  std::string operator()(double v) const { return pad_left(plain(v), width_); }
  std::string operator()(int64_t v) const { return pad_left(std::to_string(v), width_); }
  size_t width() const { return width_; }

 private:
  std::string plain(double v) const {
    if (sci_mode_) return number(v, std::chars_format::scientific, kPrecision);
    if (int_mode_) {
      std::string s = number(v, std::chars_format::fixed, 0);
      return std::isfinite(v) ? s + "." : s;
    }
    return number(v, std::chars_format::fixed, kPrecision);
  }

  bool int_mode_ = true;   // every shown value is a whole number
  bool sci_mode_ = false;
  size_t width_ = 1;
};

// Reads the elements of a strided tensor whose storage holds S, walking only the
// shown indices, and writes them out in PyTorch's layout.
template <class S>
class Printer {
 public:
  Printer(const Tensor& t, bool summarize)
      : data_(static_cast<const S*>(t.raw_data_ptr())),
        shape_(t.shape()),
        strides_(t.strides()),
        summarize_(summarize) {}

  // The shown values, in order (the formatter sizes its columns from these only).
  template <class V>
  void collect(std::vector<V>& out, size_t d = 0, int64_t off = 0) const {
    if (d == shape_.size()) {
      out.push_back(static_cast<V>(data_[off]));
      return;
    }
    for (int64_t i : shown_indices(shape_[d], summarize_))
      if (i != kEllipsis) collect(out, d + 1, off + i * strides_[d]);
  }

  // The text of the sub-tensor at dim d starting at `off`, whose opening bracket
  // sits in column `indent` - 1 (so its continuation lines start at `indent` + 1).
  std::string body(const Formatter& fmt, size_t d, int64_t off, int64_t indent) const {
    if (d == shape_.size()) return format(fmt, data_[off]);  // a 0-d tensor
    const size_t dims_left = shape_.size() - d;
    std::vector<std::string> items;
    for (int64_t i : shown_indices(shape_[d], summarize_)) {
      if (i == kEllipsis)
        items.push_back(dims_left == 1 ? " ..." : "...");
      else if (dims_left == 1)
        items.push_back(format(fmt, data_[off + i * strides_[d]]));
      else
        items.push_back(body(fmt, d + 1, off + i * strides_[d], indent + 1));
    }
    const std::string indent_str(indent + 1, ' ');
    if (dims_left > 1) {
      // Sub-lists one per line, with a blank line between blocks of 3-D and up.
      return "[" + join(items, "," + std::string(dims_left - 1, '\n') + indent_str) + "]";
    }
    // A row: as many elements per line as fit ("x, " is width + 2 characters).
    const int64_t element_length = static_cast<int64_t>(fmt.width()) + 2;
    const int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / element_length);
    std::vector<std::string> lines;
    for (size_t i = 0; i < items.size(); i += per_line) {
      std::vector<std::string> line(items.begin() + i,
                                    items.begin() + std::min(items.size(), i + per_line));
      lines.push_back(join(line, ", "));
    }
    return "[" + join(lines, ",\n" + indent_str) + "]";
  }

 private:
  static std::string format(const Formatter& fmt, S v) {
    if constexpr (std::is_same_v<S, int64_t>)
      return fmt(v);
    else
      return fmt(static_cast<double>(v));
  }
  static std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
  }

  const S* data_;
  const Shape& shape_;
  const Strides& strides_;
  bool summarize_;
};

// "[...]" for a non-empty tensor, its first bracket in column `indent`.
std::string values_text(const Tensor& t, int64_t indent) {
  const bool summarize = t.numel() > kThreshold;
  return dispatch(t.dtype(), [&](auto tag) {
    using S = decltype(tag);
    Printer<S> p(t, summarize);
    Formatter fmt;
    if constexpr (std::is_same_v<S, int64_t>) {
      std::vector<int64_t> shown;
      p.collect(shown);
      fmt = Formatter::for_ints(shown);
    } else {
      std::vector<double> shown;
      p.collect(shown);
      fmt = Formatter::for_floats(shown);
    }
    return p.body(fmt, 0, 0, indent);
  });
}

// Appends ", suffix" for each suffix, moving one to a new line (indented under
// the first bracket) when it would pass column 80. The "+ 2" in line_len is
// PyTorch's own count, kept so that lines break where PyTorch breaks them.
std::string with_suffixes(std::string text, const std::vector<std::string>& suffixes,
                          int64_t indent) {
  size_t nl = text.rfind('\n');
  int64_t line_len = static_cast<int64_t>(nl == std::string::npos ? text.size() + 2
                                                                 : text.size() - nl + 1);
  for (const std::string& s : suffixes) {
    const int64_t len = static_cast<int64_t>(s.size());
    if (line_len + len + 2 > kLineWidth) {
      text += ",\n" + std::string(indent, ' ') + s;
      line_len = indent + len;
    } else {
      text += ", " + s;
      line_len += len + 2;
    }
  }
  return text + ")";
}

// (0, 3): the size as a Python tuple, as PyTorch writes it.
std::string size_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::string prefix = "tensor(";
  const int64_t indent = static_cast<int64_t>(prefix.size());
  std::vector<std::string> suffixes;
  std::string text;
  if (t.numel() == 0) {
    // No values to show the dtype by, so any dtype but the default is named.
    if (t.dim() != 1) suffixes.push_back("size=" + size_tuple(t.shape()));
    if (t.dtype() != kFloat32) suffixes.push_back(msg("dtype=", t.dtype()));
    text = "[]";
  } else {
    // int64 shows by its lack of a decimal point, float32 is the default: only
    // float64 needs naming.
    if (t.dtype() == kFloat64) suffixes.push_back(msg("dtype=", t.dtype()));
    text = values_text(t, indent);
  }
  // Autograd's part (grad_fn=<tanh>, requires_grad=True), told by autograd's own
  // state through the interface core owns (core/autograd_meta.h).
  if (const AutogradMeta* meta = t.impl().autograd.get()) {
    std::string autograd = meta->describe();
    if (!autograd.empty()) suffixes.push_back(std::move(autograd));
  }
  return os << with_suffixes(prefix + text, suffixes, indent);
}

std::string to_string(const Tensor& t) { return msg(t); }

}  // namespace heed
