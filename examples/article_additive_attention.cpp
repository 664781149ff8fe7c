// article_additive_attention: additive (tanh) attention over two product reviews,
// before and after it has learned what to look at.
//
// Ports seed article 004 ("注意力机制", the attention mechanism explained), section
// "4. 具体代码实例和详细解释说明" (a concrete code example): an Attention module that
// scores tokens with tanh(linear1(Q) + linear2(K)), applied to the sentences
// "I love this product" and "This is the best product I have ever bought".
//
// What the original got wrong, and what heed does instead:
//  1. It never turns text into numbers: `input_embeddings = ...`. Here the words
//     are tokenized (lowercased, split on spaces), numbered in a vocabulary, padded
//     to one length with id 0, and looked up in an nn::Embedding.
//  2. Its Q, K and V are slices of that missing tensor along the wrong dim:
//     input_embeddings[:, 0:1], [:, 0:-1], [:, 1:] cut the FEATURES of a [T, E]
//     tensor (its embed_dim is size(1)), so Q has 1 feature and linear1 (E -> E)
//     cannot take it; and K and V are shifted by one token, so key j would be
//     paired with value j+1. Here every key is its own value (the word's
//     embedding), and the query is one learned vector: "which word tells me the
//     sentiment?".
//  3. Its score is not additive attention. linear2 (E -> 1) is used twice, once on
//     K, giving a [.., 1] "key feature" added to a [.., E] query feature, and again
//     as the scoring vector v. Bahdanau's score is v^T tanh(W_q q + W_k k) with
//     three separate maps; heed's nn::AdditiveAttention is exactly that.
//  4. There is no softmax: the "weights" are raw scores, neither positive nor
//     summing to 1, and `attn_weights * V` multiplies [B, T] by [B, T, E], which
//     does not even broadcast (the program shows heed's error for it), and never
//     sums over the words, so there is no context vector. heed's layer returns
//     softmax weights over the real (unpadded) words and their weighted sum.
//  5. Untrained, attention weights mean nothing (they come from random weights),
//     yet the article prints them as if they did. Here we print them, then train
//     a sentiment classifier on 24 short hand-written reviews through the
//     attention-weighted context, and print them again: the weight moves onto the
//     words that carry the sentiment ("love", "best"). The reviews come in pairs
//     that differ only in that word, so no other word can predict the label.
//
//   article_additive_attention --out additive_out      # pictures in additive_out/
//   article_additive_attention --check                 # exits 1 if a claim fails
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"

using namespace heed;

namespace {

// ---- the data -------------------------------------------------------------------
// The article's two sentences are kept OUT of training: they test whether what
// the attention learned on other reviews carries over.
const std::vector<std::string> kArticleSentences = {"I love this product",
                                                    "This is the best product I have ever bought"};
// The word in each that carries its sentiment, whose weight we watch.
const std::vector<std::string> kSentimentWords = {"love", "best"};

struct Review {
  std::string text;
  int64_t label;  // 1 positive, 0 negative
};
// The reviews come in pairs that differ only in the sentiment word(s): "I love
// this phone" / "I hate this phone". So no other word ("this", "phone", "i",
// "the", "ever", "bought") says anything about the label, and the only way to
// classify well is to look at the sentiment word: what we hope attention learns.
const std::vector<Review> kReviews = {
    {"I love it", 1},                          {"I hate it", 0},
    {"I love this phone", 1},                  {"I hate this phone", 0},
    {"We love the design", 1},                 {"We hate the design", 0},
    {"I bought this and I love it", 1},        {"I bought this and I hate it", 0},
    {"This is the best phone", 1},             {"This is the worst phone", 0},
    {"The best gift I have ever bought", 1},   {"The worst gift I have ever bought", 0},
    {"This product is the best", 1},           {"This product is the worst", 0},
    {"This is great", 1},                      {"This is terrible", 0},
    {"Great value for the price", 1},          {"Awful value for the price", 0},
    {"This product is excellent", 1},          {"This product is awful", 0},
    {"I am happy with this product", 1},       {"I am disappointed with this product", 0},
    {"A good product", 1},                     {"A bad product", 0},
};

// "This is the best." -> {"this", "is", "the", "best"}: lowercase, split on spaces,
// keep letters and digits only.
std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string raw; in >> raw;) {
    std::string word;
    for (char ch : raw) {
      const auto c = static_cast<unsigned char>(ch);  // the <cctype> functions take a byte's value
      if (std::isalnum(c)) word += static_cast<char>(std::tolower(c));
    }
    if (!word.empty()) words.push_back(word);
  }
  return words;
}

// Word -> id. Id 0 is "<pad>", the filler after a short sentence's last word.
struct Vocabulary {
  std::map<std::string, int64_t> ids{{"<pad>", 0}};
  int64_t add(const std::string& word) { return ids.emplace(word, static_cast<int64_t>(ids.size())).first->second; }
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// Sentences -> ids [N, T], padded with 0 to the longest (T words).
Tensor encode(const std::vector<std::vector<std::string>>& sentences, Vocabulary& vocab) {
  size_t T = 0;
  for (const auto& s : sentences) T = std::max(T, s.size());
  std::vector<int64_t> ids(sentences.size() * T, 0);
  for (size_t n = 0; n < sentences.size(); ++n)
    for (size_t t = 0; t < sentences[n].size(); ++t) ids[n * T + t] = vocab.add(sentences[n][t]);
  return Tensor::from_vector(ids, {static_cast<int64_t>(sentences.size()), static_cast<int64_t>(T)});
}

// ---- the model ------------------------------------------------------------------------
// Shapes: B sentences, T words (padded), E embedding width, A attention width.
//   embeddings = embed(ids)                                       [B, T, E]  (keys and values)
//   weights    = softmax_j(v^T tanh(W_q query + W_k embeddings_j)) [B, T]     (padding gets 0)
//   context    = sum_j weights_j embeddings_j                     [B, E]
//   logits     = classify(context)                                [B, 2]     (negative, positive)
// The one query is a learned vector: the question every sentence is asked.
struct Output {
  Tensor logits;   // [B, 2]
  Tensor weights;  // [B, T]
};

class SentimentAttention : public nn::Module {
 public:
  SentimentAttention(int64_t vocab_size, int64_t E, int64_t A)
      : embed(register_module("embed", std::make_shared<nn::Embedding>(vocab_size, E, /*padding_idx=*/0))),
        attention(register_module("attention", std::make_shared<nn::AdditiveAttention>(E, E, A))),
        query(register_parameter("query", Tensor::randn({1, 1, E}))),
        classify(register_module("classify", std::make_shared<nn::Linear>(E, 2))) {}

  Output forward(const Tensor& ids) const {  // ids [B, T] int64
    const int64_t B = ids.size(0), E = embed->embedding_dim;
    Tensor words = (*embed)(ids);                                        // [B, T, E]
    // Padding must not be attended to: nonzero mask = hidden, one row per sentence.
    Tensor padding = eq(ids, Tensor::scalar(0, kInt64)).unsqueeze(1);    // [B, 1, T]
    Tensor q = query.expand({B, 1, E});                                  // [B, 1, E], one query each
    auto [context, weights] = (*attention)(q, words, words, padding);    // [B, 1, E], [B, 1, T]
    return {(*classify)(context.squeeze(1)), weights.squeeze(1)};
  }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::AdditiveAttention> attention;
  Tensor query;  // [1, 1, E]
  std::shared_ptr<nn::Linear> classify;
};

double accuracy(const Tensor& logits, const Tensor& labels) {
  return eq(argmax(logits, -1), labels).to(kFloat64).mean().item();
}

// One line per word: its weight before and after training, and a bar for "after".
void print_word_weights(const std::vector<std::string>& words, const std::vector<float>& before,
                        const std::vector<float>& after) {
  std::cout << "    word        before   after\n";
  for (size_t t = 0; t < words.size(); ++t)
    std::cout << "    " << std::left << std::setw(10) << words[t] << std::right << std::setw(8) << before[t]
              << std::setw(8) << after[t] << "  " << std::string(static_cast<size_t>(after[t] * 40 + 0.5), '#')
              << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // ---- options -----------------------------------------------------------------------
  CLI::App app{"Additive attention over two reviews, before and after training a sentiment classifier (seed article 004)"};
  uint64_t seed = 0;
  int64_t steps = 100;
  std::string out_dir = "additive_attention_out";
  bool check = false;
  double lr = 0.1;
  app.add_option("--lr", lr, "AdamW's learning rate");
  examples::add_common_options(app, seed, steps, out_dir, check,
                               "training steps (full batch, AdamW)",
                               "verify the claims below and exit 1 if one fails");
  CLI11_PARSE(app, argc, argv);
  examples::prepare_run(seed, out_dir);
  auto start = std::chrono::steady_clock::now();
  std::cout << std::fixed << std::setprecision(3);

  // ---- tokenize and embed ------------------------------------------------------------------
  Vocabulary vocab;
  std::vector<std::vector<std::string>> train_words, test_words;
  std::vector<int64_t> label_list;
  for (const Review& r : kReviews) {
    train_words.push_back(tokenize(r.text));
    label_list.push_back(r.label);
  }
  for (const std::string& s : kArticleSentences) test_words.push_back(tokenize(s));
  Tensor train_ids = encode(train_words, vocab);  // [24, T]
  Tensor test_ids = encode(test_words, vocab);    // [2, 10]
  Tensor labels = Tensor::from_vector(label_list, {static_cast<int64_t>(label_list.size())});
  std::cout << "vocabulary: " << vocab.size() << " words (with <pad>); " << kReviews.size()
            << " training reviews; the article's two sentences held out\n";
  std::cout << "ids of the article's sentences (0 = <pad>):\n" << test_ids << "\n\n";

  const int64_t E = 16, A = 16;
  SentimentAttention model(vocab.size(), E, A);
  {
    // nn::Embedding starts its rows at N(0, 1), as PyTorch does. Rows that long make
    // the untrained scores spread widely: one word may start with 40% of the
    // attention for no reason, and training then has to undo that head start before
    // the words that matter can win. Rows at N(0, 0.3^2) start every word near
    // 1/T; then the weight goes where the gradient sends it.
    NoGradGuard no_grad;
    model.embed->weight.mul_(0.3);
  }

  // The article's last line, attn_weights * V, with its shapes: [B, T] times [B, T, E].
  try {
    Tensor article_weights = Tensor::zeros({2, 10}), article_values = Tensor::zeros({2, 10, E});
    (void)(article_weights * article_values);
  } catch (const heed::ShapeError& e) {
    std::cout << "the article's `attn_weights * V` in heed: " << e.what() << "\n\n";
  }

  // ---- the weights before training -------------------------------------------------------------
  auto test_weights = [&] {
    NoGradGuard no_grad;
    return model.forward(test_ids).weights;  // [2, 10]
  };
  Tensor before = test_weights();

  // ---- train: full batch, cross-entropy, AdamW ---------------------------------------------------
  // The 24 reviews can be separated perfectly, and then cross-entropy keeps pushing
  // the logits apart for ever: in float32 the loss reaches exactly 0 after a few
  // dozen steps. AdamW's decoupled weight decay (p -= lr * 0.1 * p each step)
  // holds the weights back, so the loss settles at a small positive value. (On a
  // log axis the loss dips to ~1e-7 near step 20, where its gradient has all but
  // vanished, then climbs back to where the decay and the gradient balance.)
  optim::AdamW opt(model.parameters(), {.lr = lr, .weight_decay = 0.1});
  std::vector<double> losses;
  for (int64_t step = 1; step <= steps; ++step) {
    Output out = model.forward(train_ids);
    Tensor loss = nn::cross_entropy(out.logits, labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
    if (step == 1 || step % std::max<int64_t>(1, steps / 5) == 0 || step == steps)
      std::cout << "step " << std::setw(4) << step << "  loss " << std::scientific << loss.item() << std::fixed
                << "  train accuracy " << accuracy(out.logits, labels) << "\n";
  }
  Tensor after = test_weights();
  double train_acc, test_positive;
  {
    NoGradGuard no_grad;
    train_acc = accuracy(model.forward(train_ids).logits, labels);
    Tensor test_probs = softmax(model.forward(test_ids).logits, -1);  // [2, 2]
    std::cout << "\ntrain accuracy " << train_acc << "; P(positive) of the held-out sentences: "
              << test_probs.at({0, 1}) << ", " << test_probs.at({1, 1}) << "\n";
    test_positive = accuracy(test_probs, Tensor::from_vector(std::vector<int64_t>{1, 1}, {2}));
  }

  // ---- each word's weight, before and after ----------------------------------------------------------
  const std::filesystem::path dir(out_dir);
  std::vector<std::string> written;
  std::vector<double> sentiment_before, sentiment_after;
  for (size_t n = 0; n < test_words.size(); ++n) {
    const auto& words = test_words[n];
    const int64_t T = static_cast<int64_t>(words.size());
    // This sentence's real words only (the padding's weight is exactly 0).
    const int64_t row = static_cast<int64_t>(n);
    Tensor pair = stack({before.select(0, row).slice(0, 0, T), after.select(0, row).slice(0, 0, T)}, 0);  // [2, T]
    std::cout << "\n\"" << kArticleSentences[n] << "\"\n";
    print_word_weights(words, pair.select(0, 0).to_vector(), pair.select(0, 1).to_vector());
    std::cout << examples::ascii_heatmap(pair, {"before", "after"}, words, {.vmin = 0.0, .vmax = 1.0});

    size_t s = std::find(words.begin(), words.end(), kSentimentWords[n]) - words.begin();
    sentiment_before.push_back(pair.at({0, static_cast<int64_t>(s)}));
    sentiment_after.push_back(pair.at({1, static_cast<int64_t>(s)}));
    std::cout << "weight on \"" << kSentimentWords[n] << "\": " << sentiment_before.back() << " before, "
              << sentiment_after.back() << " after (uniform would be " << 1.0 / T << ")\n";

    std::string path = (dir / ("additive_attention_sentence" + std::to_string(n + 1) + ".png")).string();
    examples::save_heatmap(path, pair, {"before", "after"}, words,
                           {.title = "additive attention: \"" + kArticleSentences[n] + "\"",
                            .x_label = "word", .y_label = "training", .vmin = 0.0, .vmax = 1.0});
    written.push_back(path);
  }
  std::string curve = (dir / "additive_attention_loss.png").string();
  // A log axis shows the late progress (it cannot show a loss of exactly 0).
  bool log_y = *std::min_element(losses.begin(), losses.end()) > 0;
  examples::save_line_plot(curve, {{"train", {}, losses}},
                           {.title = "sentiment classifier: cross-entropy", .log_y = log_y});
  written.push_back(curve);
  std::cout << "\n";
  for (const std::string& path : written) std::cout << "wrote " << path << "\n";
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "took " << std::setprecision(2) << seconds << " s\n" << std::setprecision(3);

  // ---- what the run should show ---------------------------------------------------------------------
  // With the default settings this holds for about 99 seeds in 100. In the rest the
  // classifier still gets every review right while the attention sits on "product"
  // or "this": a sentiment word with a large embedding can win the vote with 10% of
  // the weight. Attention weights show where a model looked, not why it decided.
  if (!check) return 0;
  std::vector<std::string> failures;
  if (!(train_acc >= 0.95)) failures.push_back("train accuracy " + std::to_string(train_acc) + " < 0.95");
  if (!(losses.back() < losses.front())) failures.push_back("the loss did not decrease");
  for (size_t n = 0; n < sentiment_before.size(); ++n)
    if (!(sentiment_after[n] > sentiment_before[n]))
      failures.push_back("\"" + kSentimentWords[n] + "\" got no more weight after training than before");
  if (!(test_positive == 1.0)) failures.push_back("a held-out (positive) article sentence was judged negative");
  double worst_row = abs(after.sum({-1}) - 1.0).max().item();
  if (!(worst_row < 1e-5)) failures.push_back("a weights row does not sum to 1");
  for (const std::string& path : written)
    if (!examples::file_written(path)) failures.push_back("missing or empty: " + path);
  for (const std::string& f : failures) std::cout << "check FAILED: " << f << "\n";
  if (!failures.empty()) return 1;
  std::cout << "check passed: train accuracy " << train_acc << ", loss " << losses.front() << " -> "
            << std::scientific << losses.back() << std::fixed << ", \"love\" " << sentiment_before[0] << " -> " << sentiment_after[0]
            << ", \"best\" " << sentiment_before[1] << " -> " << sentiment_after[1]
            << ", both held-out sentences judged positive\n";
  return 0;
}
