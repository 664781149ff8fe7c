#include "heed/nn/lstm.h"

#include <string>

#include "heed/nn/init.h"
#include "heed/nn/recurrent.h"
#include "heed/ops/lstm.h"
#include "heed/ops/ops.h"

namespace heed::nn {

namespace {

using recurrent::check_dtype;

// The initial states: both given or both left out (zeros), each of shape `want`.
void check_states(const char* layer, const Tensor& h, const Tensor& c, const Shape& want,
                  const char* want_text, const Tensor& weight) {
  if (h.defined() != c.defined())
    throw ValueError(msg(layer, ": pass both the initial h and c, or neither (both then start at "
                         "zeros); only ", h.defined() ? "h" : "c", " was given"));
  recurrent::check_state(layer, "h", h, want, want_text, weight);
  recurrent::check_state(layer, "c", c, want, want_text, weight);
}

}  // namespace

// ==== LSTMCell ======================================================================

LSTMCell::LSTMCell(int64_t in, int64_t hidden, bool bias) : input_size(in), hidden_size(hidden) {
  recurrent::check_sizes("LSTMCell", in, hidden);
  // PyTorch draws every LSTM parameter from U(-1/sqrt(H), 1/sqrt(H)): fan_in = H.
  weight_ih = register_parameter("weight_ih", init::fan_in_uniform({4 * hidden, in}, hidden));
  weight_hh = register_parameter("weight_hh", init::fan_in_uniform({4 * hidden, hidden}, hidden));
  if (bias) {
    bias_ih = register_parameter("bias_ih", init::fan_in_uniform({4 * hidden}, hidden));
    bias_hh = register_parameter("bias_hh", init::fan_in_uniform({4 * hidden}, hidden));
  }
}

LSTMState LSTMCell::forward(const Tensor& x, const Tensor& h, const Tensor& c) const {
  if ((x.dim() != 1 && x.dim() != 2) || x.size(-1) != input_size)
    throw ShapeError(msg("LSTMCell: input is ", x.shape(), "; it must be [B, input_size] or [input_size] ",
                         "(unbatched), with input_size = ", input_size));
  check_dtype("LSTMCell", "input", x, weight_ih);
  const bool batched = x.dim() == 2;
  const int64_t B = batched ? x.size(0) : 1, H = hidden_size;
  check_states("LSTMCell", h, c, batched ? Shape{B, H} : Shape{H}, batched ? "[B, H]" : "[H]",
               weight_ih);

  // Unbatched input is a batch of one, squeezed again at the end. A missing state
  // is zeros; h W_hh^T is still computed then, so that weight_hh gets a (zero)
  // gradient, as in PyTorch, rather than none.
  auto batch_of = [&](const Tensor& s) {  // [B, H]
    return !s.defined() ? Tensor::zeros({B, H}, x.dtype()) : batched ? s : s.unsqueeze(0);
  };
  Tensor xb = batched ? x : x.unsqueeze(0);  // [B, in]
  // One step is a layer over a sequence of length 1: the fused op does both
  // products, the biases and the gate math, and its backward hands each weight its
  // gradient as one contiguous product (dW_ih = dz^T x). Written as matmul(x,
  // W_ih^T) + ..., the weights would get transposed views, and a decoder that runs
  // the cell T times would sum T of those strided gradients into each weight.
  Tensor hc = lstm_layer(xb.unsqueeze(0), weight_ih, weight_hh, bias_ih, bias_hh, batch_of(h), batch_of(c));
  Tensor h_next = hc.select(0, 0), c_next = hc.select(0, 1);  // [2, B, H]: h', c'
  if (!batched) return {report_output(h_next.squeeze(0)), c_next.squeeze(0)};
  return {report_output(h_next), c_next};
}

// ==== LSTM =========================================================================

LSTM::LSTM(int64_t in, int64_t hidden, LSTMOptions options)
    : input_size(in), hidden_size(hidden), num_layers(options.num_layers), batch_first(options.batch_first),
      bidirectional(options.bidirectional), dropout(options.dropout) {
  recurrent::check_sizes("LSTM", in, hidden);
  if (num_layers < 1) throw ValueError(msg("LSTM: num_layers is ", num_layers, "; it must be >= 1"));
  if (!(dropout >= 0 && dropout < 1))
    throw ValueError(msg("LSTM: dropout is ", dropout, "; it must be in [0, 1)"));
  // PyTorch's names and order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
  // then the same with _reverse (bidirectional), then weight_ih_l1, ...
  const int64_t D = directions();
  for (int64_t k = 0; k < num_layers; ++k) {
    for (int64_t d = 0; d < D; ++d) {
      const std::string s = std::to_string(k) + (d == 1 ? "_reverse" : "");
      const int64_t layer_in = k == 0 ? in : D * hidden;
      weight_ih.push_back(register_parameter("weight_ih_l" + s, init::fan_in_uniform({4 * hidden, layer_in}, hidden)));
      weight_hh.push_back(register_parameter("weight_hh_l" + s, init::fan_in_uniform({4 * hidden, hidden}, hidden)));
      if (options.bias) {
        bias_ih.push_back(register_parameter("bias_ih_l" + s, init::fan_in_uniform({4 * hidden}, hidden)));
        bias_hh.push_back(register_parameter("bias_hh_l" + s, init::fan_in_uniform({4 * hidden}, hidden)));
      }
    }
  }
}

LSTMOutput LSTM::run(const Tensor& seq, const Tensor& h0, const Tensor& c0) const {
  const recurrent::Stack config{num_layers, directions(), hidden_size, dropout, is_training(), /*has_cell=*/true};
  return recurrent::run(config, seq, h0, c0, [&](size_t i, const Tensor& input, const Tensor& h, const Tensor& c) {
    const int64_t T = input.size(0);
    Tensor b_ih = bias_ih.empty() ? Tensor() : bias_ih[i], b_hh = bias_hh.empty() ? Tensor() : bias_hh[i];
    // One op for the whole layer (ops/lstm.h): the input side of all T steps is
    // one matrix product, and the backward is one pass back through time.
    Tensor packed = lstm_layer(input, weight_ih[i], weight_hh[i], b_ih, b_hh, h, c);  // [T+1, B, H]
    return LSTMOutput{packed.slice(0, 0, T), packed.select(0, T - 1), packed.select(0, T)};  // h_1..h_T, h_T, c_T
  });
}

LSTMOutput LSTM::forward(const Tensor& x, const Tensor& h0, const Tensor& c0) const {
  if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != input_size)
    throw ShapeError(msg("LSTM: input is ", x.shape(), "; it must be ",
                         batch_first ? "[B, T, input_size]" : "[T, B, input_size]",
                         " or [T, input_size] (unbatched), with input_size = ", input_size));
  check_dtype("LSTM", "input", x, weight_ih[0]);
  const bool batched = x.dim() == 3;
  // Work time-major, [T, B, in]: each step then reads one contiguous [B, in] block.
  Tensor seq = !batched ? x.unsqueeze(1) : batch_first ? x.transpose(0, 1) : x;
  const int64_t T = seq.size(0), B = seq.size(1), H = hidden_size, LD = num_layers * directions();
  if (T == 0)
    throw ShapeError(msg("LSTM: input is ", x.shape(), "; the sequence length T must be > 0"));
  check_states("LSTM", h0, c0, batched ? Shape{LD, B, H} : Shape{LD, H},
               batched ? "[num_layers * directions, B, H]" : "[num_layers * directions, H]", weight_ih[0]);
  LSTMOutput r = run(seq, h0.defined() && !batched ? h0.unsqueeze(1) : h0,
                     c0.defined() && !batched ? c0.unsqueeze(1) : c0);
  if (!batched) return {report_output(r.output.squeeze(1)), r.h.squeeze(1), r.c.squeeze(1)};
  return {report_output(batch_first ? r.output.transpose(0, 1) : r.output), r.h, r.c};
}

LSTMOutput LSTM::forward_padded(const Tensor& x, const Tensor& lengths, const Tensor& h0, const Tensor& c0) const {
  if (x.dim() != 3 || x.size(-1) != input_size)
    throw ShapeError(msg("LSTM.forward_padded: input is ", x.shape(), "; it must be ",
                         batch_first ? "[B, T, input_size]" : "[T, B, input_size]", " with input_size = ", input_size));
  check_dtype("LSTM.forward_padded", "input", x, weight_ih[0]);
  Tensor seq = batch_first ? x.transpose(0, 1) : x;  // [T, B, in]
  const int64_t B = seq.size(1), LD = num_layers * directions();
  check_states("LSTM.forward_padded", h0, c0, Shape{LD, B, hidden_size}, "[num_layers * directions, B, H]",
               weight_ih[0]);

  LSTMOutput r = recurrent::run_padded("LSTM", seq, lengths, h0, c0,
                                      [&](const Tensor& s, const Tensor& h, const Tensor& c) { return run(s, h, c); });
  return {report_output(batch_first ? r.output.transpose(0, 1) : r.output), r.h, r.c};
}

}  // namespace heed::nn
