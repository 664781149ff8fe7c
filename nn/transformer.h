// The Transformer's layers (Vaswani et al. 2017), with PyTorch's
// torch.nn.TransformerEncoderLayer / DecoderLayer parameters and behaviour, so a
// state dict moves between the two unchanged.
//
// An encoder layer is two residual blocks over x [B, T, E]:
//   self-attention  sa(x) = dropout1(self_attn(x, x, x))
//   feed-forward    ff(x) = dropout2(linear2(dropout(act(linear1(x)))))      E -> F -> E
// put together in one of two orders:
//   post-norm (the paper's, norm_first = false):  x = norm1(x + sa(x));   x = norm2(x + ff(x))
//   pre-norm  (GPT-2's,     norm_first = true):   x = x + sa(norm1(x));   x = x + ff(norm2(x))
// Pre-norm keeps a clean residual path from the output back to the input, which
// is why deep stacks train without a warmup-sensitive start; post-norm
// normalizes what each block passes on.
//
// A decoder layer adds a block between the two, cross-attention to the
// encoder's output (memory):
//   ca(x) = dropout2(multihead_attn(x, memory, memory)),  and ff uses dropout3, norm3.
//
// Shapes: B batch, T target length, S source (memory) length, E d_model,
// F dim_feedforward, H nhead. Inputs are [T, B, E] (PyTorch's default) or
// [B, T, E] with batch_first; [T, E] for one unbatched sequence.
//
// Masks, as PyTorch takes them (see nn/multihead_attention.h): a floating-point
// mask is ADDED to the scores (0 keeps, -inf hides), an int64 mask stands for a
// bool one (nonzero = hidden).
//   src_mask / tgt_mask / memory_mask   [T, T] or [T, S], or [B*H, ., .] per head
//   *_key_padding_mask                  [B, T] or [B, S]: one entry per key
//   is_causal                           query i sees keys 0..i, with no mask tensor at all
//
// Parameter names (PyTorch's): self_attn.in_proj_weight, self_attn.in_proj_bias,
// self_attn.out_proj.{weight,bias}, (decoder: multihead_attn.*), linear1.*, linear2.*,
// norm1.*, norm2.* (decoder: norm3.*).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "heed/nn/dropout.h"
#include "heed/nn/layer_norm.h"
#include "heed/nn/linear.h"
#include "heed/nn/module.h"
#include "heed/nn/module_list.h"
#include "heed/nn/multihead_attention.h"

namespace heed::nn {

// PyTorch's keyword arguments, by name:
//   TransformerEncoderLayer layer(256, 4, {.dim_feedforward = 1024, .activation = "gelu", .norm_first = true});
struct TransformerLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;              // after each block, inside the feed-forward, and on the attention weights
  std::string activation = "relu";   // "relu", "gelu" (exact), or "gelu_tanh" (GELU's tanh approximation)
  double layer_norm_eps = 1e-5;
  bool batch_first = false;          // inputs [B, T, E] instead of [T, B, E]
  bool norm_first = false;           // pre-norm instead of post-norm
};

class TransformerEncoderLayer : public Module {
 public:
  // Each part initialised as that module is (PyTorch does the same).
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});

  // src [T, B, E] ([B, T, E] with batch_first) -> the same shape.
  Tensor forward(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                    bool is_causal = false) const {
    return forward(src, src_mask, src_key_padding_mask, is_causal);
  }

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& key_padding_mask,
                              bool is_causal) const;
  Tensor feed_forward_block(const Tensor& x) const;
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});

  // tgt [T, B, E], memory [S, B, E] ([B, T, E], [B, S, E] with batch_first) -> tgt's shape.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false) const;
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false) const {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  Tensor feed_forward_block(const Tensor& x) const;
};

// num_layers encoder layers one after another, and an optional final LayerNorm
// (PyTorch's `norm` argument; pre-norm stacks want it, since their last block
// adds to an unnormalized residual). Parameters: layers.0.*, layers.1.*, ...,
// norm.* (with final_norm).
//
// One difference from PyTorch, on purpose: PyTorch deep-copies one layer, so its
// layers start out equal; here each layer is built, and initialised, on its own.
// Loading a state dict gives the same model either way.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(int64_t d_model, int64_t nhead, int64_t num_layers, TransformerLayerOptions options = {},
                     bool final_norm = false);
  Tensor forward(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {},
                    bool is_causal = false) const {
    return forward(src, mask, src_key_padding_mask, is_causal);
  }

  std::shared_ptr<ModuleList> layers;  // of TransformerEncoderLayer
  std::shared_ptr<LayerNorm> norm;     // null without final_norm
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(int64_t d_model, int64_t nhead, int64_t num_layers, TransformerLayerOptions options = {},
                     bool final_norm = false);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false) const;
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false) const {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }

  std::shared_ptr<ModuleList> layers;  // of TransformerDecoderLayer
  std::shared_ptr<LayerNorm> norm;     // null without final_norm
};

// The whole encoder-decoder of the paper, as torch.nn.Transformer: an encoder
// stack and a decoder stack, each with its final LayerNorm, the decoder's
// cross-attention reading the encoder's output. Parameters: encoder.layers.N.*,
// encoder.norm.*, decoder.layers.N.*, decoder.norm.*; every matrix initialised
// xavier_uniform, as PyTorch's _reset_parameters does.
struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  TransformerLayerOptions layer = {};  // dim_feedforward, dropout, activation, eps, batch_first, norm_first
};

class Transformer : public Module {
 public:
  explicit Transformer(TransformerOptions options = {});

  // src [S, B, E], tgt [T, B, E] ([B, S, E], [B, T, E] with batch_first) -> [T, B, E].
  // Masks as the layers take them: src_mask [S, S], tgt_mask [T, T], memory_mask [T, S]
  // (or per head), the key padding masks [B, S], [B, T], [B, S]; tgt_is_causal hides the
  // target's future with no mask tensor.
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                 bool tgt_is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                    bool tgt_is_causal = false) const {
    return forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                   memory_key_padding_mask, tgt_is_causal);
  }

  TransformerOptions options;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

// The [T, T] float mask PyTorch's Transformer.generate_square_subsequent_mask
// makes: 0 on and below the diagonal, -inf above (key j > query i hidden). The
// layers' is_causal does the same without building it.
Tensor generate_square_subsequent_mask(int64_t T, DType dtype = kFloat32);

}  // namespace heed::nn
