#include "heed/nn/transformer.h"

#include <cmath>
#include <utility>

#include "heed/autograd/grad_mode.h"
#include "heed/nn/init.h"
#include "heed/ops/activation.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/mask.h"

namespace heed::nn {

namespace {

const char* kEncoderLayer = "TransformerEncoderLayer";
const char* kDecoderLayer = "TransformerDecoderLayer";

void check_options(const char* layer, int64_t d_model, int64_t nhead, const TransformerLayerOptions& o) {
  if (d_model <= 0 || nhead <= 0)
    throw ValueError(msg(layer, ": d_model (", d_model, ") and nhead (", nhead, ") must be positive"));
  if (d_model % nhead != 0)
    throw ValueError(msg(layer, ": d_model (", d_model, ") must be divisible by nhead (", nhead,
                         "): each head attends with d_model / nhead features"));
  if (o.dim_feedforward <= 0)
    throw ValueError(msg(layer, ": dim_feedforward is ", o.dim_feedforward, "; it must be positive"));
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw ValueError(msg(layer, ": dropout is ", o.dropout, "; it must be in [0, 1)"));
  if (o.activation != "relu" && o.activation != "gelu" && o.activation != "gelu_tanh")
    throw ValueError(msg(layer, ": activation is \"", o.activation,
                         "\"; it must be \"relu\", \"gelu\" or \"gelu_tanh\""));
}

std::shared_ptr<MultiheadAttention> attention(int64_t d_model, int64_t nhead, const TransformerLayerOptions& o) {
  return std::make_shared<MultiheadAttention>(
      d_model, nhead, MultiheadAttentionOptions{.dropout = o.dropout, .batch_first = o.batch_first});
}

Tensor activate(const std::string& activation, const Tensor& x) {
  if (activation == "gelu") return gelu(x);
  if (activation == "gelu_tanh") return gelu_tanh(x);
  return relu(x);
}

// The sizes of a sequence input, and the checks every layer makes of one.
struct Sequence {
  bool batched;
  int64_t B, T;
};

Sequence check_sequence(const char* layer, const char* name, const Tensor& x, const MultiheadAttention& attn) {
  const int64_t E = attn.embed_dim;
  const char* layout = attn.batch_first ? "[B, T, E]" : "[T, B, E]";
  if ((x.dim() != 3 && x.dim() != 2) || x.size(-1) != E)
    throw ShapeError(msg(layer, ": ", name, " is ", x.shape(), "; it must be ", layout, " or [T, E] (unbatched), with ",
                         "E = d_model = ", E));
  if (x.dtype() != attn.in_proj_weight.dtype())
    throw DTypeError(msg(layer, ": ", name, " is ", x.dtype(), " and the layer's parameters ",
                         attn.in_proj_weight.dtype(), "; convert one of them (Tensor::to, Module::to)"));
  if (x.dim() == 2) return {false, 1, x.size(0)};
  return attn.batch_first ? Sequence{true, x.size(0), x.size(1)} : Sequence{true, x.size(1), x.size(0)};
}

// attn_mask: [L, S], or one per batch entry and head [B*H, L, S] ([H, L, S] unbatched).
void check_attn_mask(const char* layer, const char* name, const Tensor& mask, const Sequence& q, int64_t S,
                     int64_t H) {
  if (!mask.defined()) return;
  const Shape one{q.T, S}, per_head{q.B * H, q.T, S};
  if (mask.shape() != one && mask.shape() != per_head)
    throw ShapeError(msg(layer, ": ", name, " is ", mask.shape(), "; it must be [L, S] = ", one,
                         q.batched ? " or [B*nhead, L, S] = " : " or [nhead, L, S] = ", per_head,
                         " (float: added to the scores; int64: nonzero = hidden)"));
}

// key padding mask: [B, S] ([S] unbatched), one entry per key.
void check_padding_mask(const char* layer, const char* name, const Tensor& mask, const Sequence& keys) {
  if (!mask.defined()) return;
  const Shape want = keys.batched ? Shape{keys.B, keys.T} : Shape{keys.T};
  if (mask.shape() != want)
    throw ShapeError(msg(layer, ": ", name, " is ", mask.shape(), "; it must be ", keys.batched ? "[B, S] = " : "[S] = ",
                         want, ", one entry per key (float: added to its scores; int64: nonzero = padding)"));
}

}  // namespace

// ---- encoder layer ---------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options_)
    : options((check_options(kEncoderLayer, d_model, nhead, options_), std::move(options_))) {
  // PyTorch's registration order, so named_parameters() lists the same names in the same order.
  self_attn = register_module("self_attn", attention(d_model, nhead, options));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
}

// sa(x) = dropout1(self_attn(x, x, x)); the weights are not asked for, so none are averaged.
Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x, const Tensor& mask,
                                                     const Tensor& key_padding_mask, bool is_causal) const {
  Tensor y = self_attn->forward(x, x, x, key_padding_mask, /*need_weights=*/false, mask, true, is_causal).output;
  return (*dropout1)(y);
}

// ff(x) = dropout2(linear2(dropout(act(linear1(x)))))
Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) const {
  return (*dropout2)((*linear2)((*dropout)(activate(options.activation, (*linear1)(x)))));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask, bool is_causal) const {
  const Sequence s = check_sequence(kEncoderLayer, "src", src, *self_attn);
  check_attn_mask(kEncoderLayer, "src_mask", src_mask, s, s.T, self_attn->num_heads);
  check_padding_mask(kEncoderLayer, "src_key_padding_mask", src_key_padding_mask, s);
  Tensor x = src;
  if (options.norm_first) {
    x = x + self_attention_block((*norm1)(x), src_mask, src_key_padding_mask, is_causal);
    x = x + feed_forward_block((*norm2)(x));
  } else {
    x = (*norm1)(x + self_attention_block(x, src_mask, src_key_padding_mask, is_causal));
    x = (*norm2)(x + feed_forward_block(x));
  }
  return report_output(x);
}

// ---- decoder layer ---------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options_)
    : options((check_options(kDecoderLayer, d_model, nhead, options_), std::move(options_))) {
  self_attn = register_module("self_attn", attention(d_model, nhead, options));
  multihead_attn = register_module("multihead_attn", attention(d_model, nhead, options));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(options.dropout));
}

// ff(x) = dropout3(linear2(dropout(act(linear1(x)))))
Tensor TransformerDecoderLayer::feed_forward_block(const Tensor& x) const {
  return (*dropout3)((*linear2)((*dropout)(activate(options.activation, (*linear1)(x)))));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask, bool tgt_is_causal) const {
  const Sequence t = check_sequence(kDecoderLayer, "tgt", tgt, *self_attn);
  const Sequence m = check_sequence(kDecoderLayer, "memory", memory, *self_attn);
  if (t.batched != m.batched || t.B != m.B)
    throw ShapeError(msg(kDecoderLayer, ": tgt is ", tgt.shape(), ", memory ", memory.shape(),
                         "; both must be batched with the same batch size, or both unbatched"));
  const int64_t H = self_attn->num_heads;
  check_attn_mask(kDecoderLayer, "tgt_mask", tgt_mask, t, t.T, H);
  check_attn_mask(kDecoderLayer, "memory_mask", memory_mask, t, m.T, H);
  check_padding_mask(kDecoderLayer, "tgt_key_padding_mask", tgt_key_padding_mask, t);
  check_padding_mask(kDecoderLayer, "memory_key_padding_mask", memory_key_padding_mask, m);
  // sa(x) = dropout1(self_attn(x, x, x)),  ca(x) = dropout2(multihead_attn(x, memory, memory))
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(
        self_attn->forward(x, x, x, tgt_key_padding_mask, false, tgt_mask, true, tgt_is_causal).output);
  };
  auto ca = [&](const Tensor& x) {
    return (*dropout2)(
        multihead_attn->forward(x, memory, memory, memory_key_padding_mask, false, memory_mask).output);
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = x + sa((*norm1)(x));
    x = x + ca((*norm2)(x));
    x = x + feed_forward_block((*norm3)(x));
  } else {
    x = (*norm1)(x + sa(x));
    x = (*norm2)(x + ca(x));
    x = (*norm3)(x + feed_forward_block(x));
  }
  return report_output(x);
}

// ---- stacks ---------------------------------------------------------------------

namespace {
// A stack's num_layers layers, each built and initialised on its own.
template <class Layer>
std::shared_ptr<ModuleList> make_layers(const char* stack, int64_t d_model, int64_t nhead, int64_t num_layers,
                                        const TransformerLayerOptions& options) {
  if (num_layers < 0) throw ValueError(msg(stack, ": num_layers is ", num_layers, "; it must be at least 0"));
  auto layers = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(std::make_shared<Layer>(d_model, nhead, options));
  return layers;
}
}  // namespace

TransformerEncoder::TransformerEncoder(int64_t d_model, int64_t nhead, int64_t num_layers,
                                       TransformerLayerOptions options, bool final_norm) {
  layers = register_module(
      "layers", make_layers<TransformerEncoderLayer>("TransformerEncoder", d_model, nhead, num_layers, options));
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask,
                                   bool is_causal) const {
  Tensor x = src;
  for (const auto& layer : layers->as<TransformerEncoderLayer>()) x = layer->forward(x, mask, src_key_padding_mask,
                                                                                      is_causal);
  return report_output(norm ? (*norm)(x) : x);
}

TransformerDecoder::TransformerDecoder(int64_t d_model, int64_t nhead, int64_t num_layers,
                                       TransformerLayerOptions options, bool final_norm) {
  layers = register_module(
      "layers", make_layers<TransformerDecoderLayer>("TransformerDecoder", d_model, nhead, num_layers, options));
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask, bool tgt_is_causal) const {
  Tensor x = tgt;
  for (const auto& layer : layers->as<TransformerDecoderLayer>())
    x = layer->forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                       tgt_is_causal);
  return report_output(norm ? (*norm)(x) : x);
}

Transformer::Transformer(TransformerOptions options_) : options(std::move(options_)) {
  const TransformerOptions& o = options;
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(o.d_model, o.nhead, o.num_encoder_layers,
                                                                            o.layer, /*final_norm=*/true));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(o.d_model, o.nhead, o.num_decoder_layers,
                                                                            o.layer, /*final_norm=*/true));
  // PyTorch's _reset_parameters: xavier_uniform on every matrix (the attention's
  // in_proj already is; the linears' and out_proj's weights are not).
  NoGradGuard no_grad;
  for (auto& [name, p] : named_parameters())
    if (p.dim() > 1) p.copy_(init::xavier_uniform(p.shape(), p.dtype()));
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_key_padding_mask,
                            const Tensor& tgt_key_padding_mask, const Tensor& memory_key_padding_mask,
                            bool tgt_is_causal) const {
  // The batch sizes must agree (dim 0 with batch_first, else dim 1), as PyTorch checks.
  const int64_t bdim = options.layer.batch_first ? 0 : 1;
  if (src.dim() == 3 && tgt.dim() == 3 && src.size(bdim) != tgt.size(bdim))
    throw ShapeError(msg("Transformer: src is ", src.shape(), ", tgt ", tgt.shape(), "; their batch sizes (dim ",
                         bdim, ") must be equal"));
  if (src.dim() != tgt.dim())
    throw ShapeError(msg("Transformer: src is ", src.shape(), ", tgt ", tgt.shape(),
                         "; both must be batched (3-D) or both unbatched (2-D)"));
  Tensor memory = encoder->forward(src, src_mask, src_key_padding_mask);
  return report_output(decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                                       memory_key_padding_mask, tgt_is_causal));
}

Tensor generate_square_subsequent_mask(int64_t T, DType dtype) {
  if (T < 0) throw ValueError(msg("generate_square_subsequent_mask: T is ", T, "; it must be at least 0"));
  // triu(ones, 1) is 1 exactly where key j > query i.
  return masked_fill(Tensor::zeros({T, T}, dtype), triu(Tensor::ones({T, T}, dtype), 1), -INFINITY);
}

}  // namespace heed::nn
