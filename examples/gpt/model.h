// A byte-level GPT: the decoder-only Transformer of GPT-2 (Radford et al. 2019),
// reading and writing bytes, so any text file is its data and no tokenizer is
// needed. Written from heed's pieces, the way nanoGPT and llm.c write GPT-2:
//
//   ids [B, T] (bytes 0..255)
//   x = wte(ids) + wpe(positions)                      [B, T, C]   token and position
//   for each block:                                                (pre-norm)
//     x = x + attn(ln_1(x))                            causal self-attention, H heads
//     x = x + mlp(ln_2(x))                             C -> 4C -> C, GELU (tanh)
//   logits = ln_f(x) wte^T                             [B, T, V]   tied to the input embedding
//
// attn(x) = c_proj(heads(c_attn(x))): one [3C, C] product gives q, k and v side
// by side, attention_packed_heads runs the H heads on it in place (causal: token
// t sees tokens 0..t), c_proj mixes the heads.
//
// Tying the output projection to wte (logits_v = x . wte_v) shares one [V, C]
// matrix between reading a byte and predicting it: fewer parameters, and each
// byte's row gets gradient from both ends.
//
// Parameter names (nanoGPT's, without its "transformer." prefix):
//   wte.weight [V, C], wpe.weight [block_size, C],
//   blocks.{i}.ln_1.*, blocks.{i}.attn.c_attn.* [3C, C], blocks.{i}.attn.c_proj.* [C, C],
//   blocks.{i}.ln_2.*, blocks.{i}.mlp.c_fc.* [4C, C], blocks.{i}.mlp.c_proj.* [C, 4C], ln_f.*
// tests/reference/gpt.py is the same model in PyTorch.
#pragma once

#include <heed/heed.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gpt {

struct Config {
  int64_t vocab_size = 256;  // bytes
  int64_t block_size = 128;  // the longest context, the positional table's size
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 256;      // C
  double dropout = 0.0;      // on the embeddings, the attention weights and each block's output

  // As strings, for a checkpoint's metadata, and back (a missing or bad entry is
  // a heed::ValueError naming it).
  std::map<std::string, std::string> to_metadata() const;
  static Config from_metadata(const std::map<std::string, std::string>& metadata);
  std::string describe() const;  // "4 layers, 4 heads, C 256, context 128"
  bool operator==(const Config&) const = default;
};

// Keys and values of every position seen so far, per layer, so that generating
// token t+1 attends over them instead of recomputing tokens 0..t. Each layer's
// k and v are [B, H, block_size, D], heads apart, so the first `length`
// positions are a [B, H, length, D] view the attention op reads in place.
struct KVCache {
  std::vector<heed::Tensor> k, v;
  int64_t length = 0;  // positions filled
  KVCache(const Config& config, int64_t batch);
};

class CausalSelfAttention : public heed::nn::Module {
 public:
  explicit CausalSelfAttention(const Config& config);
  // x [B, T, C] -> [B, T, C]. With a cache (and grad mode off), x holds the T
  // positions after the cached ones; their keys and values are stored in it.
  // attention_map, if given, receives the weights [B, H, T, T] (without a cache).
  heed::Tensor forward(const heed::Tensor& x, KVCache* cache = nullptr, int64_t layer = 0,
                       heed::Tensor* attention_map = nullptr) const;

  int64_t n_head;
  double dropout;
  std::shared_ptr<heed::nn::Linear> c_attn, c_proj;
};

class MLP : public heed::nn::UnaryModule {
 public:
  explicit MLP(const Config& config);
  heed::Tensor forward(const heed::Tensor& x) const override;  // c_proj(gelu_tanh(c_fc(x)))
  std::shared_ptr<heed::nn::Linear> c_fc, c_proj;
};

class Block : public heed::nn::Module {
 public:
  explicit Block(const Config& config);
  heed::Tensor forward(const heed::Tensor& x, KVCache* cache = nullptr, int64_t layer = 0,
                       heed::Tensor* attention_map = nullptr) const;
  std::shared_ptr<heed::nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<MLP> mlp;
  std::shared_ptr<heed::nn::Dropout> drop;  // on each branch's output
  std::string name = "block";  // its label in the profiler's table and trace: "blocks.2"
};

class GPT : public heed::nn::Module {
 public:
  explicit GPT(const Config& config);

  // ids [B, T] int64 -> logits [B, T, V]. T <= block_size (with a cache, the
  // cached length plus T). attention_maps, if given, receives each layer's
  // weights [B, H, T, T].
  heed::Tensor forward(const heed::Tensor& ids, KVCache* cache = nullptr,
                       std::vector<heed::Tensor>* attention_maps = nullptr) const;
  heed::Tensor operator()(const heed::Tensor& ids) const { return forward(ids); }

  // The checkpoint: the state dict, with the config (and `extra`, e.g. the step)
  // in its metadata. load() checks that the file's config is this model's and
  // says what differs if not.
  void save(const std::string& path, const std::map<std::string, std::string>& extra = {}) const;
  static Config read_config(const std::string& path);
  void load(const std::string& path);

  Config config;
  std::shared_ptr<heed::nn::Embedding> wte;
  std::shared_ptr<heed::nn::LearnedPositionalEmbedding> wpe;
  std::shared_ptr<heed::nn::Dropout> drop;
  std::shared_ptr<heed::nn::ModuleList> blocks;
  std::shared_ptr<heed::nn::LayerNorm> ln_f;

 private:
  std::vector<std::shared_ptr<Block>> block_list_;  // the same blocks, typed
};

// Sampling: the next byte from the last position's logits, with temperature
// (logits / temperature; < 1 sharpens, > 1 flattens) and top-k (only the k most
// likely bytes stay; 0 keeps all). Draws from heed's generator, so a seed
// repeats a sample.
int64_t sample(const heed::Tensor& logits, double temperature, int64_t top_k);

// Continues `prompt` (bytes) by n_new bytes. With use_cache, each new byte costs
// one position's work (the KV cache); without, the whole context is recomputed
// every time (what the cache saves). When the context fills block_size, the
// cache is rebuilt from the last half of it (positions are absolute, so a cache
// cannot slide).
std::string generate(const GPT& model, const std::string& prompt, int64_t n_new, double temperature, int64_t top_k,
                     bool use_cache = true);

// Bytes as ids [1, T], and a byte as a label for a plot axis ("\n" -> "\\n", ' ' -> "␣").
heed::Tensor encode(const std::string& text);
std::string byte_label(unsigned char c);

}  // namespace gpt
