#include "heed/nn/lstm.h"

#include <string>

#include "heed/nn/init.h"
#include "heed/ops/lstm.h"
#include "heed/ops/ops.h"

namespace heed::nn {

namespace {

void check_layer_sizes(const char* layer, int64_t input_size, int64_t hidden_size) {
  if (input_size < 0 || hidden_size < 0)
    throw ValueError(msg(layer, ": input_size (", input_size, ") and hidden_size (", hidden_size,
                         ") must be >= 0"));
}

// heed does not convert dtypes silently, so say what to convert.
void check_dtype(const char* layer, const char* name, const Tensor& t, const Tensor& weight) {
  if (!is_floating(t.dtype()))
    throw DTypeError(msg(layer, ": ", name, " is ", t.dtype(), "; it must be float32 or float64"));
  if (t.dtype() != weight.dtype())
    throw DTypeError(msg(layer, ": ", name, " is ", t.dtype(), " but the parameters are ",
                         weight.dtype(), "; convert the module with to(", t.dtype(), ") or the ",
                         name, " with to(", weight.dtype(), ")"));
}

// The initial states: both given or both left out (zeros), each of shape `want`.
void check_states(const char* layer, const Tensor& h, const Tensor& c, const Shape& want,
                  const char* want_text, const Tensor& weight) {
  if (h.defined() != c.defined())
    throw ValueError(msg(layer, ": pass both the initial h and c, or neither (both then start at "
                         "zeros); only ", h.defined() ? "h" : "c", " was given"));
  if (!h.defined()) return;
  for (auto [name, s] : {std::pair{"h", &h}, std::pair{"c", &c}}) {
    if (s->shape() != want)
      throw ShapeError(msg(layer, ": the initial ", name, " is ", s->shape(), "; it must be ",
                           want_text, " = ", want));
    check_dtype(layer, name, *s, weight);
  }
}

}  // namespace

// ==== LSTMCell ======================================================================

LSTMCell::LSTMCell(int64_t in, int64_t hidden, bool bias) : input_size(in), hidden_size(hidden) {
  check_layer_sizes("LSTMCell", in, hidden);
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
  if (!batched) return {h_next.squeeze(0), c_next.squeeze(0)};
  return {h_next, c_next};
}

// ==== LSTM =========================================================================

LSTM::LSTM(int64_t in, int64_t hidden, int64_t layers, bool bias, bool batch_first)
    : input_size(in), hidden_size(hidden), num_layers(layers), batch_first(batch_first) {
  check_layer_sizes("LSTM", in, hidden);
  if (layers < 1) throw ValueError(msg("LSTM: num_layers is ", layers, "; it must be >= 1"));
  // PyTorch's names and order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_ih_l1, ...
  for (int64_t k = 0; k < layers; ++k) {
    const std::string s = std::to_string(k);
    const int64_t layer_in = k == 0 ? in : hidden;
    weight_ih.push_back(register_parameter("weight_ih_l" + s, init::fan_in_uniform({4 * hidden, layer_in}, hidden)));
    weight_hh.push_back(register_parameter("weight_hh_l" + s, init::fan_in_uniform({4 * hidden, hidden}, hidden)));
    if (bias) {
      bias_ih.push_back(register_parameter("bias_ih_l" + s, init::fan_in_uniform({4 * hidden}, hidden)));
      bias_hh.push_back(register_parameter("bias_hh_l" + s, init::fan_in_uniform({4 * hidden}, hidden)));
    }
  }
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
  const int64_t T = seq.size(0), B = seq.size(1), H = hidden_size, L = num_layers;
  if (T == 0)
    throw ShapeError(msg("LSTM: input is ", x.shape(), "; the sequence length T must be > 0"));
  check_states("LSTM", h0, c0, batched ? Shape{L, B, H} : Shape{L, H},
               batched ? "[num_layers, B, H]" : "[num_layers, H]", weight_ih[0]);
  Tensor h_init = h0.defined() && !batched ? h0.unsqueeze(1) : h0;  // [L, B, H]
  Tensor c_init = c0.defined() && !batched ? c0.unsqueeze(1) : c0;

  Tensor layer_in = seq;  // [T, B, in], then [T, B, H]
  std::vector<Tensor> h_last, c_last;
  for (int64_t k = 0; k < L; ++k) {
    Tensor hk = h_init.defined() ? h_init.select(0, k) : Tensor::zeros({B, H}, x.dtype());
    Tensor ck = c_init.defined() ? c_init.select(0, k) : Tensor::zeros({B, H}, x.dtype());
    Tensor b_ih = bias_ih.empty() ? Tensor() : bias_ih[k], b_hh = bias_hh.empty() ? Tensor() : bias_hh[k];
    // One op for the whole layer (ops/lstm.h): the input side of all T steps is
    // one matrix product, and the backward is one pass back through time.
    Tensor packed = lstm_layer(layer_in, weight_ih[k], weight_hh[k], b_ih, b_hh, hk, ck);  // [T+1, B, H]
    layer_in = packed.slice(0, 0, T);       // h_1 .. h_T
    h_last.push_back(packed.select(0, T - 1));
    c_last.push_back(packed.select(0, T));
  }

  Tensor h = stack(h_last, 0), c = stack(c_last, 0);  // [L, B, H]
  if (!batched) return {layer_in.squeeze(1), h.squeeze(1), c.squeeze(1)};
  return {batch_first ? layer_in.transpose(0, 1) : layer_in, h, c};
}

}  // namespace heed::nn
