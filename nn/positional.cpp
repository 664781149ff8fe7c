#include "heed/nn/positional.h"

#include <cmath>
#include <vector>

#include "heed/nn/init.h"
#include "heed/ops/elementwise.h"

namespace heed::nn {

namespace {

// x + table[start : start + T], the rows broadcast over the batch. op names the module.
Tensor add_positions(const char* op, const Tensor& x, const Tensor& table, int64_t start, bool batch_first) {
  const int64_t E = table.size(1), max_len = table.size(0);
  if ((x.dim() != 3 && x.dim() != 2) || x.size(-1) != E)
    throw ShapeError(msg(op, ": x is ", x.shape(), "; it must be ", batch_first ? "[B, T, E]" : "[T, B, E]",
                         " or [T, E], with E = d_model = ", E));
  const int64_t T = x.dim() == 3 && batch_first ? x.size(1) : x.size(0);
  if (start < 0 || start + T > max_len)
    throw ShapeError(msg(op, ": positions [", start, ", ", start + T, ") of x ", x.shape(),
                         " run past the table's max_len (", max_len, "); build it with a larger max_len"));
  Tensor pe = table.slice(0, start, start + T);                     // [T, E]
  if (x.dim() == 3 && !batch_first) pe = pe.reshape({T, 1, E});  // broadcasts over B in [T, B, E]
  return x + pe.to(x.dtype());
}

void check_sizes(const char* op, int64_t max_len, int64_t d_model) {
  if (max_len < 0 || d_model <= 0)
    throw ValueError(msg(op, ": max_len (", max_len, ") must be >= 0 and d_model (", d_model, ") positive"));
}

}  // namespace

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t d_model_, int64_t max_len_, bool batch_first_)
    : d_model(d_model_), max_len(max_len_), batch_first(batch_first_) {
  check_sizes("SinusoidalPositionalEncoding", max_len, d_model);
  // In double, then rounded once: pos up to thousands times a frequency near 1
  // would lose digits in float before the sine.
  std::vector<double> table(static_cast<size_t>(max_len * d_model));
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; i < d_model; i += 2) {
      const double angle = pos * std::exp(-std::log(10000.0) * static_cast<double>(i) / d_model);
      table[pos * d_model + i] = std::sin(angle);
      if (i + 1 < d_model) table[pos * d_model + i + 1] = std::cos(angle);  // an odd E has no last cosine
    }
  pe = Tensor::from_vector(table, {max_len, d_model}).to(kFloat32);
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, int64_t start) const {
  return report_output(add_positions("SinusoidalPositionalEncoding", x, pe, start, batch_first));
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t max_len_, int64_t d_model_, bool batch_first_)
    : max_len(max_len_), d_model(d_model_), batch_first(batch_first_) {
  check_sizes("LearnedPositionalEmbedding", max_len, d_model);
  weight = register_parameter("weight", init::normal({max_len, d_model}));
}

Tensor LearnedPositionalEmbedding::forward(const Tensor& x, int64_t start) const {
  return report_output(add_positions("LearnedPositionalEmbedding", x, weight, start, batch_first));
}

}  // namespace heed::nn
