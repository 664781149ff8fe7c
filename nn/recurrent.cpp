#include "heed/nn/recurrent.h"

#include <map>

#include "heed/ops/ops.h"

namespace heed::nn::recurrent {

void check_sizes(const char* layer, int64_t input_size, int64_t hidden_size) {
  if (input_size < 0 || hidden_size < 0)
    throw ValueError(msg(layer, ": input_size (", input_size, ") and hidden_size (", hidden_size,
                         ") must be >= 0"));
}

void check_dtype(const char* layer, const char* name, const Tensor& t, const Tensor& weight) {
  if (!is_floating(t.dtype()))
    throw DTypeError(msg(layer, ": ", name, " is ", t.dtype(), "; it must be float32 or float64"));
  if (t.dtype() != weight.dtype())
    throw DTypeError(msg(layer, ": ", name, " is ", t.dtype(), " but the parameters are ",
                         weight.dtype(), "; convert the module with to(", t.dtype(), ") or the ",
                         name, " with to(", weight.dtype(), ")"));
}

void check_state(const char* layer, const char* name, const Tensor& s, const Shape& want, const char* want_text,
                 const Tensor& weight) {
  if (!s.defined()) return;
  if (s.shape() != want)
    throw ShapeError(msg(layer, ": the initial ", name, " is ", s.shape(), "; it must be ", want_text, " = ", want));
  check_dtype(layer, name, s, weight);
}

LSTMOutput run(const Stack& config, const Tensor& seq, const Tensor& h0, const Tensor& c0, const Layer& layer) {
  const int64_t T = seq.size(0), B = seq.size(1), H = config.hidden_size, D = config.directions;
  // The backward direction reads the sequence from its end: x_{T-1}, ..., x_0.
  // It runs as an ordinary layer on the reversed sequence, whose outputs are then
  // reversed back, so its output at t has seen x_t .. x_{T-1}.
  const Tensor backwards = D == 2 ? Tensor::arange(static_cast<double>(T - 1), -1, -1, kInt64) : Tensor();
  auto initial = [&](const Tensor& s, int64_t i) {
    return s.defined() ? s.select(0, i) : Tensor::zeros({B, H}, seq.dtype());
  };
  Tensor layer_in = seq;  // [T, B, in], then [T, B, D H]
  std::vector<Tensor> h_last, c_last;
  for (int64_t k = 0; k < config.num_layers; ++k) {
    std::vector<Tensor> outputs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t i = k * D + d;
      Tensor input = d == 0 ? layer_in : index_select(layer_in, 0, backwards);
      LSTMOutput r = layer(static_cast<size_t>(i), input, initial(h0, i),
                           config.has_cell ? initial(c0, i) : Tensor());
      outputs.push_back(d == 0 ? r.output : index_select(r.output, 0, backwards));
      h_last.push_back(r.h);
      c_last.push_back(r.c);
    }
    layer_in = D == 1 ? outputs[0] : cat(outputs, 2);
    // PyTorch's inter-layer dropout: on every layer's output but the last.
    if (config.dropout > 0 && config.training && k + 1 < config.num_layers)
      layer_in = heed::dropout(layer_in, config.dropout, true);
  }
  return {layer_in, stack(h_last, 0), config.has_cell ? stack(c_last, 0) : Tensor()};
}

LSTMOutput run_padded(const char* layer_name, const Tensor& seq, const Tensor& lengths, const Tensor& h0,
                      const Tensor& c0, const Whole& whole) {
  const int64_t T = seq.size(0), B = seq.size(1);
  if (!lengths.defined() || lengths.dtype() != kInt64 || lengths.shape() != Shape{B})
    throw ShapeError(msg(layer_name, ".forward_padded: lengths must be int64 [B] = [", B, "], one per sequence"));
  // Sequences of one length run together: their real steps are a plain batch.
  const std::vector<int64_t> len = lengths.to_vector<int64_t>();
  std::map<int64_t, std::vector<int64_t>> groups;  // length -> the sequences that have it
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = len[static_cast<size_t>(b)];
    if (n < 1 || n > T)
      throw ValueError(msg(layer_name, ".forward_padded: lengths[", b, "] is ", n, "; each length must be in [1, T = ", T,
                           "]"));
    groups[n].push_back(b);
  }
  std::vector<Tensor> outputs, hs, cs;
  std::vector<int64_t> order;  // the batch rows in the order the groups hold them
  for (const auto& [n, rows] : groups) {
    const Tensor pick = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
    LSTMOutput r = whole(index_select(seq, 1, pick).slice(0, 0, n), h0.defined() ? index_select(h0, 1, pick) : Tensor(),
                         c0.defined() ? index_select(c0, 1, pick) : Tensor());
    Tensor out = r.output;  // [n, rows, D H]
    if (n < T) out = cat({out, Tensor::zeros({T - n, out.size(1), out.size(2)}, out.dtype())}, 0);  // zeros at the padding
    outputs.push_back(out);
    hs.push_back(r.h);
    cs.push_back(r.c);
    order.insert(order.end(), rows.begin(), rows.end());
  }
  // Back to the batch's own order: row order[i] of the batch is row i of the groups.
  std::vector<int64_t> where(static_cast<size_t>(B));
  for (size_t i = 0; i < order.size(); ++i) where[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
  const Tensor back = Tensor::from_vector(where, {B});
  return {index_select(cat(outputs, 1), 1, back), index_select(cat(hs, 1), 1, back),
          cs[0].defined() ? index_select(cat(cs, 1), 1, back) : Tensor()};
}

}  // namespace heed::nn::recurrent
