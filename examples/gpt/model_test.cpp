// The byte-level GPT (examples/gpt/model.h): the KV cache gives the logits the
// full forward gives, the weights are tied, a checkpoint round-trips and names
// a config that differs, sampling follows temperature and top-k, and bad input
// is refused with a clear error.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "gpt/model.h"

using namespace heed;

namespace {

gpt::Config small() { return {.vocab_size = 256, .block_size = 16, .n_layer = 2, .n_head = 2, .n_embd = 16}; }

double max_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item(); }

}  // namespace

TEST_CASE("gpt: cached and uncached logits are equal") {
  manual_seed(1);
  gpt::GPT model(small());
  model.eval();
  NoGradGuard no_grad;
  const std::string text = "attention, heed";  // 15 bytes
  Tensor full = model.forward(gpt::encode(text));  // [1, 15, 256]: every position at once
  SUBCASE("a prompt, then one byte at a time") {
    gpt::KVCache cache(model.config, 1);
    Tensor first = model.forward(gpt::encode(text.substr(0, 6)), &cache);  // positions 0..5
    CHECK(max_diff(first, full.slice(1, 0, 6)) < 1e-5);
    for (size_t t = 6; t < text.size(); ++t) {
      Tensor step = model.forward(gpt::encode(text.substr(t, 1)), &cache);  // position t alone
      CAPTURE(t);
      CHECK(max_diff(step.select(1, 0), full.select(1, static_cast<int64_t>(t))) < 1e-5);
    }
    CHECK(cache.length == 15);
  }
  SUBCASE("generation with and without the cache draws the same bytes") {
    manual_seed(7);
    std::string cached = gpt::generate(model, "heed", 30, 1.0, 0, true);  // past block_size: the cache is rebuilt
    manual_seed(7);
    std::string plain = gpt::generate(model, "heed", 30, 1.0, 0, false);
    CHECK(cached.size() == 34);
    // The rebuilt cache starts from the last half of the context where the plain
    // forward keeps the whole block, so the two agree up to the first rebuild.
    CHECK(cached.substr(0, 16) == plain.substr(0, 16));
  }
}

TEST_CASE("gpt: tied embeddings, names, initialisation") {
  manual_seed(2);
  gpt::GPT model(small());
  auto names = model.state_dict().keys();
  CHECK(names.front() == "wte.weight");
  CHECK(names[1] == "wpe.weight");
  CHECK(names[2] == "blocks.0.ln_1.weight");
  CHECK(names.back() == "ln_f.bias");
  // One [V, C] matrix reads the bytes and scores them: no separate output layer.
  for (const auto& n : names) CHECK(n.find("lm_head") == std::string::npos);
  // wte gets gradient from both ends
  Tensor logits = model(gpt::encode("abc"));
  logits.select(2, 'z').sum().backward();
  CHECK(max(abs(model.wte->weight.grad().select(0, 'z'))).item() > 0);  // as the output row of 'z'
  CHECK(max(abs(model.wte->weight.grad().select(0, 'a'))).item() > 0);  // as the input row of 'a'
  // GPT-2's init: std 0.02, the residual projections smaller
  auto std_of = [](const Tensor& t) { return std::sqrt((t * t).mean().item()); };
  CHECK(std_of(model.wte->weight) == doctest::Approx(0.02).epsilon(0.1));
  CHECK(std_of(model.blocks->as<gpt::Block>()[0]->attn->c_proj->weight) == doctest::Approx(0.01).epsilon(0.15));
}

TEST_CASE("gpt: checkpoints") {
  manual_seed(3);
  const auto dir = std::filesystem::temp_directory_path() / "heed_gpt_model_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "gpt.safetensors").string();
  gpt::GPT model(small());
  model.save(path, {{"step", "12"}});
  CHECK(gpt::GPT::read_config(path) == small());
  gpt::GPT other(small());
  other.load(path);
  NoGradGuard no_grad;
  Tensor ids = gpt::encode("round trip");
  CHECK(max_diff(other(ids), model(ids)) == 0);
  gpt::Config wider = small();
  wider.n_embd = 32;
  gpt::GPT mismatched(wider);
  CHECK_THROWS_WITH_AS(mismatched.load(path),
                       doctest::Contains("holds a model with 2 layers, 2 heads, C 16, context 16, vocabulary 256"),
                       ValueError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("gpt: sampling") {
  manual_seed(4);
  Tensor logits = Tensor::from_vector(std::vector<float>{0.0f, 5.0f, 1.0f, 4.9f}, {4});
  CHECK(gpt::sample(logits, 0.0, 0) == 1);  // temperature 0: the most likely
  for (int i = 0; i < 50; ++i) {
    int64_t s = gpt::sample(logits, 1.0, 2);  // top 2: only 1 and 3 can come out
    CHECK((s == 1 || s == 3));
  }
  int ones = 0;
  for (int i = 0; i < 400; ++i) ones += gpt::sample(logits, 100.0, 0) == 0;  // hot: near uniform
  CHECK(ones > 50);
  CHECK(gpt::byte_label('\n') == "\\n");
  CHECK(gpt::byte_label('a') == "a");
  CHECK(gpt::byte_label(0x01) == "\\x01");
}

TEST_CASE("gpt: errors") {
  CHECK_THROWS_WITH_AS(gpt::GPT({.n_head = 3, .n_embd = 16}), doctest::Contains("n_embd (16) must be divisible by n_head (3)"),
                       ValueError);
  gpt::GPT model(small());
  CHECK_THROWS_WITH_AS(model(gpt::encode(std::string(17, 'x'))),
                       doctest::Contains("a context of 17 positions (0 cached, 17 new) is longer than block_size (16)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(model(Tensor::zeros({1, 4})), doctest::Contains("ids is float32 [1, 4]; it must be int64 [B, T]"),
                       ShapeError);
  gpt::KVCache cache(model.config, 1);
  CHECK_THROWS_WITH_AS(model.forward(gpt::encode("ab"), &cache), doctest::Contains("turn grad mode off"), ValueError);
}
