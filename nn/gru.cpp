#include "heed/nn/gru.h"

#include <functional>
#include <string>

#include "heed/nn/init.h"
#include "heed/nn/recurrent.h"
#include "heed/ops/ops.h"

namespace heed::nn {

namespace {

// One step from the two products' results (their biases included):
//   gi = x W_ih^T + b_ih,  gh = h W_hh^T + b_hh,  both [B, 3H] in blocks r, z, n.
Tensor gru_step(const Tensor& gi, const Tensor& gh, const Tensor& h) {
  std::vector<Tensor> i = chunk(gi, 3, 1), g = chunk(gh, 3, 1);
  Tensor r = sigmoid(i[0] + g[0]);
  Tensor z = sigmoid(i[1] + g[1]);
  Tensor n = tanh(i[2] + r * g[2]);
  return n + z * (h - n);  // = (1 - z) n + z h, one op fewer
}

// Registers (through `reg`, the module's register_parameter) one direction of
// one layer's parameters under PyTorch's names.
using Register = std::function<Tensor(const std::string& name, Tensor value)>;
void add_layer(const Register& reg, const std::string& suffix, int64_t in, int64_t H, bool bias,
               std::vector<Tensor>& w_ih, std::vector<Tensor>& w_hh, std::vector<Tensor>& b_ih, std::vector<Tensor>& b_hh) {
  // PyTorch draws every GRU parameter from U(-1/sqrt(H), 1/sqrt(H)): fan_in = H.
  w_ih.push_back(reg("weight_ih" + suffix, init::fan_in_uniform({3 * H, in}, H)));
  w_hh.push_back(reg("weight_hh" + suffix, init::fan_in_uniform({3 * H, H}, H)));
  if (bias) {
    b_ih.push_back(reg("bias_ih" + suffix, init::fan_in_uniform({3 * H}, H)));
    b_hh.push_back(reg("bias_hh" + suffix, init::fan_in_uniform({3 * H}, H)));
  }
}

}  // namespace

// ==== GRUCell =======================================================================

GRUCell::GRUCell(int64_t in, int64_t hidden, bool bias) : input_size(in), hidden_size(hidden) {
  recurrent::check_sizes("GRUCell", in, hidden);
  std::vector<Tensor> w_ih, w_hh, b_ih, b_hh;
  add_layer([this](const std::string& name, Tensor value) { return register_parameter(name, std::move(value)); },
            "", in, hidden, bias, w_ih, w_hh, b_ih, b_hh);
  weight_ih = w_ih[0];
  weight_hh = w_hh[0];
  if (bias) {
    bias_ih = b_ih[0];
    bias_hh = b_hh[0];
  }
}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) const {
  if ((x.dim() != 1 && x.dim() != 2) || x.size(-1) != input_size)
    throw ShapeError(msg("GRUCell: input is ", x.shape(), "; it must be [B, input_size] or [input_size] ",
                         "(unbatched), with input_size = ", input_size));
  recurrent::check_dtype("GRUCell", "input", x, weight_ih);
  const bool batched = x.dim() == 2;
  const int64_t B = batched ? x.size(0) : 1, H = hidden_size;
  recurrent::check_state("GRUCell", "h", h, batched ? Shape{B, H} : Shape{H}, batched ? "[B, H]" : "[H]", weight_ih);
  Tensor xb = batched ? x : x.unsqueeze(0);                                                  // [B, in]
  Tensor hb = !h.defined() ? Tensor::zeros({B, H}, x.dtype()) : batched ? h : h.unsqueeze(0);  // [B, H]
  Tensor next = gru_step(linear(xb, weight_ih, bias_ih), linear(hb, weight_hh, bias_hh), hb);
  return report_output(batched ? next : next.squeeze(0));
}

// ==== GRU ===========================================================================

GRU::GRU(int64_t in, int64_t hidden, GRUOptions options)
    : input_size(in), hidden_size(hidden), num_layers(options.num_layers), batch_first(options.batch_first),
      bidirectional(options.bidirectional), dropout(options.dropout) {
  recurrent::check_sizes("GRU", in, hidden);
  if (num_layers < 1) throw ValueError(msg("GRU: num_layers is ", num_layers, "; it must be >= 1"));
  if (!(dropout >= 0 && dropout < 1)) throw ValueError(msg("GRU: dropout is ", dropout, "; it must be in [0, 1)"));
  const int64_t D = directions();
  for (int64_t k = 0; k < num_layers; ++k)
    for (int64_t d = 0; d < D; ++d)
      add_layer([this](const std::string& name, Tensor value) { return register_parameter(name, std::move(value)); },
            "_l" + std::to_string(k) + (d == 1 ? "_reverse" : ""), k == 0 ? in : D * hidden, hidden,
                options.bias, weight_ih, weight_hh, bias_ih, bias_hh);
}

GRUOutput GRU::run(const Tensor& seq, const Tensor& h0) const {
  const recurrent::Stack config{num_layers, directions(), hidden_size, dropout, is_training(), /*has_cell=*/false};
  LSTMOutput r = recurrent::run(config, seq, h0, {}, [&](size_t i, const Tensor& input, const Tensor& h, const Tensor&) {
    const int64_t T = input.size(0);
    Tensor b_ih = bias_ih.empty() ? Tensor() : bias_ih[i], b_hh = bias_hh.empty() ? Tensor() : bias_hh[i];
    // The input side of all T steps is one product, before the loop; only
    // h W_hh^T depends on the previous step.
    Tensor gi = linear(input, weight_ih[i], b_ih);  // [T, B, 3H]
    std::vector<Tensor> hs;
    Tensor state = h;  // [B, H]
    for (int64_t t = 0; t < T; ++t) {
      state = gru_step(gi.select(0, t), linear(state, weight_hh[i], b_hh), state);
      hs.push_back(state);
    }
    return LSTMOutput{stack(hs, 0), state, Tensor()};
  });
  return {r.output, r.h};
}

GRUOutput GRU::forward(const Tensor& x, const Tensor& h0) const {
  if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != input_size)
    throw ShapeError(msg("GRU: input is ", x.shape(), "; it must be ",
                         batch_first ? "[B, T, input_size]" : "[T, B, input_size]",
                         " or [T, input_size] (unbatched), with input_size = ", input_size));
  recurrent::check_dtype("GRU", "input", x, weight_ih[0]);
  const bool batched = x.dim() == 3;
  Tensor seq = !batched ? x.unsqueeze(1) : batch_first ? x.transpose(0, 1) : x;  // [T, B, in]
  const int64_t T = seq.size(0), B = seq.size(1), LD = num_layers * directions();
  if (T == 0) throw ShapeError(msg("GRU: input is ", x.shape(), "; the sequence length T must be > 0"));
  recurrent::check_state("GRU", "h", h0, batched ? Shape{LD, B, hidden_size} : Shape{LD, hidden_size},
                         batched ? "[num_layers * directions, B, H]" : "[num_layers * directions, H]", weight_ih[0]);
  GRUOutput r = run(seq, h0.defined() && !batched ? h0.unsqueeze(1) : h0);
  if (!batched) return {report_output(r.output.squeeze(1)), r.h.squeeze(1)};
  return {report_output(batch_first ? r.output.transpose(0, 1) : r.output), r.h};
}

GRUOutput GRU::forward_padded(const Tensor& x, const Tensor& lengths, const Tensor& h0) const {
  if (x.dim() != 3 || x.size(-1) != input_size)
    throw ShapeError(msg("GRU.forward_padded: input is ", x.shape(), "; it must be ",
                         batch_first ? "[B, T, input_size]" : "[T, B, input_size]", " with input_size = ", input_size));
  recurrent::check_dtype("GRU.forward_padded", "input", x, weight_ih[0]);
  Tensor seq = batch_first ? x.transpose(0, 1) : x;  // [T, B, in]
  recurrent::check_state("GRU.forward_padded", "h", h0, Shape{num_layers * directions(), seq.size(1), hidden_size},
                         "[num_layers * directions, B, H]", weight_ih[0]);
  LSTMOutput r = recurrent::run_padded("GRU", seq, lengths, h0, {}, [&](const Tensor& s, const Tensor& h, const Tensor&) {
    GRUOutput g = run(s, h);
    return LSTMOutput{g.output, g.h, Tensor()};
  });
  return {report_output(batch_first ? r.output.transpose(0, 1) : r.output), r.h};
}

}  // namespace heed::nn
