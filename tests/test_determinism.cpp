// Bitwise determinism across thread counts: the same seed gives the same bits
// whether heed runs on 1, 2 or 3 OpenMP threads. Every reduction splits its
// work in blocks fixed by the sizes alone and adds the blocks' sums in a fixed
// order; every matrix product is cut into single-threaded BLAS calls by its
// sizes and the machine's processor count (ops/kernels/fast/gemm.cpp), and
// the LSTM's steps into chunks the same way (ops/kernels/fast/lstm.cpp). The
// thread count decides only who computes a piece, never what is added to what.
// PyTorch does not promise this.
//
// The models are sized so that every op takes its parallel path (each tensor
// is past kParallelGrain, the LSTM's steps are shared by a team): a
// Transformer (an embedding, two encoder layers with dropout and a causal mask,
// a linear read-out) and an LSTM with attention over its outputs, each trained
// with cross-entropy, gradient clipping and AdamW.
#include <omp.h>

#include "helpers.h"

using namespace heed;

namespace {

constexpr int64_t T = 32, B = 8, E = 128, V = 50;

struct TransformerModel : nn::Module {
  TransformerModel()
      : embed(register_module("embed", std::make_shared<nn::Embedding>(V, E))),
        block1(register_module("block1", make_block())),
        block2(register_module("block2", make_block())),
        head(register_module("head", std::make_shared<nn::Linear>(E, V))) {}
  static std::shared_ptr<nn::TransformerEncoderLayer> make_block() {
    return std::make_shared<nn::TransformerEncoderLayer>(
        E, 4, nn::TransformerLayerOptions{.dim_feedforward = 256, .dropout = 0.1, .norm_first = true});
  }
  Tensor forward(const Tensor& tokens) const {  // tokens [T, B] -> logits [T * B, V]
    Tensor h = embed->forward(tokens);
    h = block2->forward(block1->forward(h, {}, {}, /*is_causal=*/true), {}, {}, /*is_causal=*/true);
    return head->forward(h).reshape({T * B, V});
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::TransformerEncoderLayer> block1, block2;
  std::shared_ptr<nn::Linear> head;
};

// An embedding, a two-layer LSTM (H 128: a team shares its steps), causal
// self-attention over its outputs with dropout, a read-out.
struct LSTMModel : nn::Module {
  LSTMModel()
      : embed(register_module("embed", std::make_shared<nn::Embedding>(V, 32))),
        lstm(register_module("lstm", std::make_shared<nn::LSTM>(32, E, nn::LSTMOptions{.num_layers = 2}))),
        attn(register_module("attn", std::make_shared<nn::MultiheadAttention>(
                                         E, 4, nn::MultiheadAttentionOptions{.dropout = 0.1}))),
        head(register_module("head", std::make_shared<nn::Linear>(E, V))) {}
  Tensor forward(const Tensor& tokens) const {
    Tensor h = lstm->forward(embed->forward(tokens)).output;  // [T, B, E]
    Tensor a = attn->forward(h, h, h, {}, /*need_weights=*/false, {}, true, /*is_causal=*/true).output;
    return head->forward(a + h).reshape({T * B, V});
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::MultiheadAttention> attn;
  std::shared_ptr<nn::Linear> head;
};

// 12 training steps on `threads` threads from seed 5; each step's loss and the
// final parameters, all as exact bits.
template <class Model>
std::vector<std::vector<float>> train(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  manual_seed(5);
  Model model;
  const Tensor x = Tensor::randint(0, V, {T, B});
  const Tensor y = Tensor::randint(0, V, {T * B});
  optim::AdamW opt(model.parameters(), {.lr = 3e-3});
  std::vector<float> losses;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(model.forward(x), y);
    loss.backward();
    nn::clip_grad_norm_(model.parameters(), 0.5);
    opt.step();
    losses.push_back(static_cast<float>(loss.item()));
  }
  std::vector<std::vector<float>> bits{losses};
  for (const Tensor& p : model.parameters()) bits.push_back(p.to_vector());
  omp_set_num_threads(saved);
  return bits;
}

template <class Model>
void check_same_bits_on_1_2_3_threads() {
  const std::vector<std::vector<float>> one = train<Model>(1);
  CHECK(one[0].back() < one[0].front());  // it trains
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const std::vector<std::vector<float>> many = train<Model>(threads);
    REQUIRE(many.size() == one.size());
    CHECK(many[0] == one[0]);  // the losses
    for (size_t i = 1; i < one.size(); ++i) {
      CAPTURE(i);
      CHECK(many[i] == one[i]);  // each parameter
    }
  }
}

}  // namespace

TEST_CASE("determinism: a Transformer trains to the same bits on 1, 2 and 3 threads") {
  check_same_bits_on_1_2_3_threads<TransformerModel>();
}

TEST_CASE("determinism: an LSTM with attention trains to the same bits on 1, 2 and 3 threads") {
  check_same_bits_on_1_2_3_threads<LSTMModel>();
}
