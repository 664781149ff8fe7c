#include "gpt/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>
#include <tuple>

using namespace heed;

namespace gpt {

// ---- config ---------------------------------------------------------------------

namespace {
// The config's fields by name, in one list for both directions.
template <class C, class F>
void visit(C& c, F f) {
  f("vocab_size", c.vocab_size);
  f("block_size", c.block_size);
  f("n_layer", c.n_layer);
  f("n_head", c.n_head);
  f("n_embd", c.n_embd);
}
}  // namespace

std::map<std::string, std::string> Config::to_metadata() const {
  std::map<std::string, std::string> m;
  visit(*this, [&](const char* name, int64_t v) { m[std::string("gpt.") + name] = std::to_string(v); });
  m["gpt.dropout"] = std::to_string(dropout);
  return m;
}

Config Config::from_metadata(const std::map<std::string, std::string>& m) {
  Config c;
  visit(c, [&](const char* name, int64_t& v) {
    auto it = m.find(std::string("gpt.") + name);
    if (it == m.end())
      throw ValueError(msg("GPT: the checkpoint's metadata has no gpt.", name, "; it was not written by GPT::save"));
    try {
      v = std::stoll(it->second);
    } catch (const std::exception&) {
      throw ValueError(msg("GPT: the checkpoint's gpt.", name, " is \"", it->second, "\", not an integer"));
    }
  });
  if (auto it = m.find("gpt.dropout"); it != m.end()) c.dropout = std::stod(it->second);
  return c;
}

std::string Config::describe() const {
  return msg(n_layer, " layers, ", n_head, " heads, C ", n_embd, ", context ", block_size, ", vocabulary ",
             vocab_size);
}

KVCache::KVCache(const Config& c, int64_t batch) {
  const int64_t D = c.n_embd / c.n_head;
  for (int64_t i = 0; i < c.n_layer; ++i) {
    k.push_back(Tensor::zeros({batch, c.n_head, c.block_size, D}));
    v.push_back(Tensor::zeros({batch, c.n_head, c.block_size, D}));
  }
}

// ---- layers ---------------------------------------------------------------------

CausalSelfAttention::CausalSelfAttention(const Config& c) : n_head(c.n_head), dropout(c.dropout) {
  c_attn = register_module("c_attn", std::make_shared<nn::Linear>(c.n_embd, 3 * c.n_embd));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(c.n_embd, c.n_embd));
}

Tensor CausalSelfAttention::forward(const Tensor& x, KVCache* cache, int64_t layer, Tensor* attention_map) const {
  profiler::Scope label("attn");  // names this part in the profiler's table and trace (no cost when off)
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), H = n_head, D = C / H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  Tensor qkv = (*c_attn)(x);  // [B, T, 3C]: q, k, v side by side, each H heads of D
  if (!cache) {
    // Training and plain inference: every position at once, token t seeing 0..t.
    auto [y, weights] = attention_packed_heads(qkv, H, scale, {}, /*causal=*/true, is_training() ? dropout : 0.0);
    if (attention_map) *attention_map = weights;  // [B, H, T, T]
    return (*c_proj)(y);                          // y [B, T, C]: the heads side by side
  }
  // With a cache: these T positions come after the t0 cached ones. Their keys
  // and values join the cache; their queries attend over all t0 + T.
  const int64_t t0 = cache->length;
  auto heads = [&](int64_t j) {  // third j of qkv as [B, H, T, D]
    return qkv.slice(2, j * C, (j + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
  };
  cache->k[layer].slice(2, t0, t0 + T).copy_(heads(1));
  cache->v[layer].slice(2, t0, t0 + T).copy_(heads(2));
  Tensor k = cache->k[layer].slice(2, 0, t0 + T), v = cache->v[layer].slice(2, 0, t0 + T);  // [B, H, t0+T, D]
  // Query i is position t0 + i and may see keys 0..t0+i. One new query (T = 1)
  // sees every key; a first fill (t0 = 0) is the plain causal rule.
  auto [y, weights] = attention(heads(0), k, v, scale, {}, /*causal=*/T > 1);
  return (*c_proj)(y.transpose(1, 2).reshape({B, T, C}));  // [B, H, T, D] -> [B, T, C]
}

MLP::MLP(const Config& c) {
  c_fc = register_module("c_fc", std::make_shared<nn::Linear>(c.n_embd, 4 * c.n_embd));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(4 * c.n_embd, c.n_embd));
}

Tensor MLP::forward(const Tensor& x) const {
  profiler::Scope label("mlp");
  return (*c_proj)(gelu_tanh((*c_fc)(x)));
}

Block::Block(const Config& c) {
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(c.n_embd));
  attn = register_module("attn", std::make_shared<CausalSelfAttention>(c));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(c.n_embd));
  mlp = register_module("mlp", std::make_shared<MLP>(c));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout));
}

// Pre-norm: each branch reads a normalized copy and adds its result to the
// residual stream x, which itself is never normalized on the way up.
Tensor Block::forward(const Tensor& x, KVCache* cache, int64_t layer, Tensor* attention_map) const {
  profiler::Scope label(name);
  Tensor h = x + (*drop)(attn->forward((*ln_1)(x), cache, layer, attention_map));
  return h + (*drop)((*mlp)((*ln_2)(h)));
}

// ---- the model ----------------------------------------------------------------------

GPT::GPT(const Config& c) : config(c) {
  if (c.vocab_size <= 0 || c.block_size <= 0 || c.n_layer < 0 || c.n_head <= 0 || c.n_embd <= 0)
    throw ValueError(msg("GPT: every size must be positive (", c.describe(), ")"));
  if (c.n_embd % c.n_head != 0)
    throw ValueError(msg("GPT: n_embd (", c.n_embd, ") must be divisible by n_head (", c.n_head,
                         "): each head gets n_embd / n_head features"));
  wte = register_module("wte", std::make_shared<nn::Embedding>(c.vocab_size, c.n_embd));
  wpe = register_module("wpe", std::make_shared<nn::LearnedPositionalEmbedding>(c.block_size, c.n_embd, true));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout));
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i) {
    block_list_.push_back(blocks->push_back(std::make_shared<Block>(c)));
    block_list_.back()->name = msg("blocks.", i);
  }
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(c.n_embd));

  // GPT-2's initialisation: weights N(0, 0.02^2), biases 0, layer norms 1 and 0.
  // The projections that add into the residual stream (both c_proj) start
  // smaller, by 1/sqrt(2 n_layer): the stream adds 2 n_layer of them, and their
  // sum should start about as large as one.
  NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * std::max<int64_t>(c.n_layer, 1));
  for (auto& [name, p] : named_parameters()) {
    const bool is_bias = name.ends_with(".bias"), is_norm = name.find("ln_") != std::string::npos;
    if (is_bias) p.zero_();
    else if (!is_norm) p.copy_(nn::init::normal(p.shape(), 0.0, name.ends_with("c_proj.weight") ? residual_std : 0.02));
  }
}

Tensor GPT::forward(const Tensor& ids, KVCache* cache, std::vector<Tensor>* attention_maps) const {
  if (ids.dim() != 2 || ids.dtype() != kInt64)
    throw ShapeError(msg("GPT: ids is ", ids.dtype(), " ", ids.shape(), "; it must be int64 [B, T]"));
  const int64_t T = ids.size(1), start = cache ? cache->length : 0;
  if (start + T > config.block_size)
    throw ShapeError(msg("GPT: a context of ", start + T, " positions (", start, " cached, ", T,
                         " new) is longer than block_size (", config.block_size, "), the positional table's size"));
  if (cache && start > 0 && T > 1)
    throw ValueError(msg("GPT: with ", start, " positions cached, feed one new position at a time (got ", T, ")"));
  if (cache && is_grad_enabled())
    throw ValueError("GPT: the KV cache is for inference; turn grad mode off (NoGradGuard) while using it");
  if (attention_maps) attention_maps->assign(block_list_.size(), Tensor());
  Tensor x = (*drop)(wpe->forward((*wte)(ids), start));  // [B, T, C]: what each byte is, and where
  for (size_t i = 0; i < block_list_.size(); ++i)
    x = block_list_[i]->forward(x, cache, static_cast<int64_t>(i), attention_maps ? &(*attention_maps)[i] : nullptr);
  if (cache) cache->length += T;
  profiler::Scope label("lm_head");
  return matmul((*ln_f)(x), wte->weight.t());  // [B, T, V]: each position's score for every next byte
}

void GPT::save(const std::string& path, const std::map<std::string, std::string>& extra) const {
  std::map<std::string, std::string> metadata = config.to_metadata();
  metadata.insert(extra.begin(), extra.end());
  save_safetensors(state_dict(), path, metadata);
}

Config GPT::read_config(const std::string& path) {
  std::map<std::string, std::string> metadata;
  load_safetensors(path, &metadata);
  return Config::from_metadata(metadata);
}

void GPT::load(const std::string& path) {
  std::map<std::string, std::string> metadata;
  StateDict state = load_safetensors(path, &metadata);
  Config saved = Config::from_metadata(metadata);
  if (!(saved == config))
    throw ValueError(msg("GPT: ", path, " holds a model with ", saved.describe(), ", dropout ", saved.dropout,
                         "; this model has ", config.describe(), ", dropout ", config.dropout,
                         ". Build the model from GPT::read_config(path)"));
  load_state_dict(state);
}

// ---- sampling ---------------------------------------------------------------------

int64_t sample(const Tensor& logits, double temperature, int64_t top_k) {
  std::vector<double> z = logits.to_vector<double>();
  const int64_t V = static_cast<int64_t>(z.size());
  if (V == 0) throw ValueError("sample: no logits");
  if (temperature <= 0)  // the limit of a vanishing temperature: always the most likely byte
    return std::max_element(z.begin(), z.end()) - z.begin();
  for (double& v : z) v /= temperature;
  if (top_k > 0 && top_k < V) {  // keep the k largest: everything below the k-th is never drawn
    std::vector<double> sorted = z;
    std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<>());
    const double kth = sorted[top_k - 1];
    for (double& v : z)
      if (v < kth) v = -std::numeric_limits<double>::infinity();
  }
  // softmax (less the max: no overflow), then the inverse of the cumulative sum at a uniform draw
  const double m = *std::max_element(z.begin(), z.end());
  double total = 0;
  for (double& v : z) total += (v = std::exp(v - m));
  double u = Tensor::rand({1}, kFloat64).item() * total;
  for (int64_t i = 0; i < V; ++i)
    if ((u -= z[i]) < 0) return i;
  return V - 1;  // u landed on the rounding of the last bucket
}

Tensor encode(const std::string& text) {
  std::vector<int64_t> ids(text.begin(), text.end());
  for (int64_t& id : ids) id &= 0xff;  // char may be signed: bytes are 0..255
  return Tensor::from_vector(ids, {1, static_cast<int64_t>(ids.size())});
}

std::string byte_label(unsigned char c) {
  if (c == '\n') return "\\n";
  if (c == '\t') return "\\t";
  if (c == ' ') return "\u2423";  // ␣, so a space is visible on an axis
  if (c >= 0x21 && c < 0x7f) return std::string(1, static_cast<char>(c));
  char hex[8];
  std::snprintf(hex, sizeof hex, "\\x%02x", c);
  return hex;
}

std::string generate(const GPT& model, const std::string& prompt, int64_t n_new, double temperature, int64_t top_k,
                     bool use_cache) {
  if (model.is_training() && model.config.dropout > 0)
    throw ValueError("generate: the model is in training mode and has dropout; call eval() first");
  NoGradGuard no_grad;
  const int64_t block = model.config.block_size;
  std::string text = prompt.empty() ? std::string("\n") : prompt;
  auto last = [&](int64_t n) { return text.substr(text.size() - std::min<int64_t>(n, text.size())); };
  KVCache cache(model.config, 1);
  Tensor logits = model.forward(encode(last(block)), use_cache ? &cache : nullptr);  // [1, T, V]
  for (int64_t i = 0; i < n_new; ++i) {
    const int64_t next = sample(logits.select(0, 0).select(0, logits.size(1) - 1), temperature, top_k);
    text.push_back(static_cast<char>(next));
    if (!use_cache) {
      logits = model.forward(encode(last(block)));
    } else if (cache.length == block) {  // full: start again from the last half of the context
      cache = KVCache(model.config, 1);
      logits = model.forward(encode(last(block / 2 + 1)), &cache);
    } else {
      logits = model.forward(encode(text.substr(text.size() - 1)), &cache);
    }
  }
  return text;
}

}  // namespace gpt
