// The data layer: datasets, samplers, collate functions, the DataLoader and its
// workers. The cases named "DataLoader workers" also run under ThreadSanitizer
// (tests/run_all.sh).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include "helpers.h"

using namespace heed;
using namespace heed::data;
using heed::test::check_values;

namespace {

std::vector<int64_t> ints(const Tensor& t) { return t.to_vector<int64_t>(); }

// Every batch of one pass, as the numbers in its fields.
std::vector<std::vector<std::vector<double>>> one_pass(DataLoader& loader) {
  std::vector<std::vector<std::vector<double>>> pass;
  for (Batch& b : loader) {
    pass.emplace_back();
    for (const Tensor& f : b.fields) pass.back().push_back(f.to_vector<double>());
  }
  return pass;
}

// x[i] = (i, i + 0.5), y[i] = i: a batch shows which examples it holds.
TensorDataset numbered(int64_t n) {
  Tensor i = Tensor::arange(static_cast<double>(n), kFloat64);
  return TensorDataset({stack({i, i + 0.5}, 1), i.to(kInt64)});
}

// A dataset whose get(k) throws for k == bad, from whichever thread calls it.
struct Faulty {
  int64_t n, bad;
  int64_t size() const { return n; }
  Example get(int64_t k) const {
    if (k == bad) throw IOError(msg("example ", k, " is unreadable"));
    return {Tensor::full({2}, static_cast<double>(k))};
  }
};

}  // namespace

TEST_CASE("TensorDataset: rows of each tensor") {
  TensorDataset ds = numbered(5);
  CHECK(ds.size() == 5);
  Example e = ds.get(3);
  REQUIRE(e.size() == 2);
  check_values(e[0], {3, 3.5});
  CHECK(e[1].dim() == 0);
  CHECK(e[1].item() == 3);
  CHECK_THROWS_CONTAINING(ds.get(5), "TensorDataset: index 5 is out of range for 5 examples", IndexError);
  CHECK_THROWS_CONTAINING(TensorDataset({Tensor::zeros({4, 2}), Tensor::zeros({3})}),
                          "tensor 0 is [4, 2], tensor 1 is [3]", ShapeError);
  CHECK_THROWS_AS(TensorDataset({}), ValueError);
  Subset sub(ds, {4, 0});
  CHECK(sub.size() == 2);
  CHECK(sub.get(0)[1].item() == 4);
  CHECK_THROWS_CONTAINING(Subset(ds, {7}), "Subset: index 7", IndexError);
}

TEST_CASE("SequencePairDataset: a source and its target, any lengths") {
  SequencePairDataset ds({{1, 2, 3}, {4}}, {{3, 2, 1}, {4, 4}});
  CHECK(ds.size() == 2);
  CHECK(ints(ds.get(0)[1]) == std::vector<int64_t>{3, 2, 1});
  CHECK(ds.get(1)[0].shape() == Shape{1});
  CHECK_THROWS_CONTAINING(SequencePairDataset({{1}}, {}), "1 sources but 0 targets", ValueError);
}

TEST_CASE("text: UTF-8 characters and a character vocabulary") {
  const std::string text = "注意力 is attention";
  std::vector<std::string_view> chars = utf8_characters(text);
  CHECK(chars.size() == 16);
  CHECK(chars[0] == "注");
  Vocabulary v = Vocabulary::of_characters(text);
  CHECK(v.size() == 11);  // 注, 意, 力, " ", i, s, a, t, e, n, o
  CHECK(v.token(0) == " ");
  CHECK(v.decode(v.encode(text)) == text);
  CHECK_THROWS_CONTAINING(v.encode("attentive"), "the character 'v' at offset 7 is not in the vocabulary", ValueError);
  CHECK_THROWS_CONTAINING(utf8_characters("a\x80"), "byte 128 at offset 1 cannot start", ValueError);
  CHECK_THROWS_CONTAINING(utf8_characters("\xe6\xb3"), "needs 3 bytes; the text ends after 2", ValueError);
  CHECK_THROWS_CONTAINING(utf8_characters("\xe6\x41\x41"), "should continue the character at offset 0", ValueError);
}

TEST_CASE("TextDataset: windows of T + 1 tokens, y is x shifted by one") {
  TextDataset ds = TextDataset::bytes("abcdefghij", /*block_size=*/4);  // 10 tokens, stride 4
  CHECK(ds.size() == 2);  // windows start at 0 and 4; one at 8 would need 5 tokens
  CHECK(ds.vocab_size() == 256);
  Example e = ds.get(1);
  CHECK(ints(e[0]) == std::vector<int64_t>{'e', 'f', 'g', 'h'});
  CHECK(ints(e[1]) == std::vector<int64_t>{'f', 'g', 'h', 'i'});
  CHECK(TextDataset::bytes("abcdefghij", 4, /*stride=*/1).size() == 6);
  CHECK(ints(TextDataset::bytes("\xff\x01", 1).get(0)[0]) == std::vector<int64_t>{255});  // bytes are unsigned

  TextDataset chars = TextDataset::characters("注意注意力", 2, 1);
  CHECK(chars.vocab_size() == 3);
  REQUIRE(chars.vocabulary());
  CHECK(chars.vocabulary()->decode(ints(chars.get(2)[1])) == "意力");

  auto [train, val] = TextDataset::bytes(std::string(100, 'x'), 8).split(0.9);
  CHECK(train.tokens().numel() == 90);
  CHECK(val.tokens().numel() == 10);
  CHECK(val.size() == 1);
  CHECK_THROWS_CONTAINING(TextDataset::bytes("abc", 3), "a text of 3 tokens is shorter than one window (block_size + 1 = 4)",
                          ValueError);
  CHECK_THROWS_CONTAINING(TextDataset::bytes(std::string(20, 'x'), 8).split(0.9), "leaves a part shorter than one window",
                          ValueError);
  CHECK_THROWS_CONTAINING(TextDataset(Tensor::from_vector(std::vector<int64_t>{0, 5, 1}, {3}), 4, 1), "token 1 is 5",
                          ValueError);
  CHECK_THROWS_AS(TextDataset::from_file("/nonexistent/corpus.txt", 8), IOError);

  const auto path = std::filesystem::temp_directory_path() / "heed_test_text.txt";
  std::ofstream(path) << "hello, attention";
  CHECK(TextDataset::from_file(path, 4, TextEncoding::Characters).vocab_size() == 10);
  std::filesystem::remove(path);
}

TEST_CASE("samplers: sequential, seeded shuffles, shards") {
  CHECK(SequentialSampler().indices(4, 7) == std::vector<int64_t>{0, 1, 2, 3});

  RandomSampler a(42), b(42), c(43);
  const std::vector<int64_t> e0 = a.indices(50, 0);
  CHECK(e0 == b.indices(50, 0));  // the same (seed, epoch): the same order, in any run
  CHECK(e0 != a.indices(50, 1));  // a new epoch: a new order
  CHECK(e0 != c.indices(50, 0));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == SequentialSampler().indices(50, 0));

  // 3 shards of one epoch: disjoint, together every index once, lengths 4, 3, 3.
  auto inner = std::make_shared<RandomSampler>(5);
  std::multiset<int64_t> seen;
  for (int64_t rank = 0; rank < 3; ++rank) {
    std::vector<int64_t> mine = ShardSampler(inner, rank, 3).indices(10, 2);
    CHECK(mine.size() == (rank == 0 ? 4u : 3u));
    CHECK(ShardSampler(inner, rank, 3).length(10) == static_cast<int64_t>(mine.size()));
    seen.insert(mine.begin(), mine.end());
  }
  CHECK(seen == std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK_THROWS_CONTAINING(ShardSampler(inner, 3, 3), "rank 3 of world 3", ValueError);
}

TEST_CASE("collate: stacking, and padding with masks") {
  Batch s = stack_collate({{Tensor::ones({2}), Tensor::scalar(1)}, {Tensor::zeros({2}), Tensor::scalar(2)}});
  CHECK(s.size() == 2);
  check_values(s[0], {1, 1, 0, 0});
  check_values(s[1], {1, 2});
  CHECK(s.masks.empty());
  CHECK_THROWS_CONTAINING(stack_collate({{Tensor::ones({2})}, {Tensor::ones({3})}}),
                          "field 0 is [2] in example 0 and [3] in example 1", ShapeError);
  CHECK_THROWS_CONTAINING(stack_collate({{Tensor::ones({2})}, {}}), "example 0 has 1 fields, example 1 has 0", ValueError);

  SequencePairDataset ds({{1, 2, 3}, {4}, {}}, {{7}, {8, 9}, {5}});
  Batch p = pad_collate(/*pad_value=*/-1)({ds.get(0), ds.get(1), ds.get(2)});
  CHECK(p[0].shape() == Shape{3, 3});
  CHECK(p[0].dtype() == kInt64);
  CHECK(ints(p[0]) == std::vector<int64_t>{1, 2, 3, 4, -1, -1, -1, -1, -1});
  CHECK(ints(p.masks[0]) == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 1});
  CHECK(ints(p.lengths[0]) == std::vector<int64_t>{3, 1, 0});
  CHECK(ints(p[1]) == std::vector<int64_t>{7, -1, 8, 9, 5, -1});
  CHECK_THROWS_CONTAINING(pad_collate()({{Tensor::ones({2, 3})}, {Tensor::ones({2, 4})}}), "only dim 0 may differ",
                          ShapeError);
}

TEST_CASE("DataLoader: batches, drop_last, shuffling") {
  DataLoader loader(numbered(10), {.batch_size = 4});
  CHECK(loader.size() == 3);
  auto pass = one_pass(loader);
  REQUIRE(pass.size() == 3);
  CHECK(pass[0][1] == std::vector<double>{0, 1, 2, 3});
  CHECK(pass[2][1] == std::vector<double>{8, 9});  // the short last batch
  CHECK(pass[2][0] == std::vector<double>{8, 8.5, 9, 9.5});

  DataLoader dropping(numbered(10), {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  CHECK(one_pass(dropping).size() == 2);

  DataLoader shuffled(numbered(10), {.batch_size = 3, .shuffle = true, .seed = 7});
  auto first = one_pass(shuffled), second = one_pass(shuffled);  // epochs 0 and 1
  CHECK(first != second);
  std::multiset<double> ys;
  for (auto& b : first) ys.insert(b[1].begin(), b[1].end());
  CHECK(ys == std::multiset<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(shuffled.state() == LoaderState{2, 0});

  CHECK_THROWS_CONTAINING(DataLoader(numbered(3), {.batch_size = 0}), "need batch_size >= 1", ValueError);
}

TEST_CASE("DataLoader: the state resumes the data exactly") {
  LoaderOptions opt{.batch_size = 3, .shuffle = true, .seed = 3};
  DataLoader straight(numbered(20), opt);
  auto e0 = one_pass(straight), e1 = one_pass(straight);

  // Break after 2 batches of epoch 0; a new loader set to that state goes on.
  DataLoader first(numbered(20), opt);
  std::vector<std::vector<std::vector<double>>> got;
  for (Batch& b : first) {
    got.push_back({b[0].to_vector<double>(), b[1].to_vector<double>()});
    if (got.size() == 2) break;
  }
  CHECK(first.state() == LoaderState{0, 2});
  DataLoader resumed(numbered(20), opt);
  resumed.set_state(first.state());
  for (auto& b : one_pass(resumed)) got.push_back(b);
  CHECK(got == e0);
  CHECK(one_pass(resumed) == e1);

  // A checkpoint taken inside the loop body resumes after the batch in hand.
  DataLoader inside(numbered(20), opt);
  auto it = inside.begin();
  CHECK(inside.state() == LoaderState{0, 1});
  CHECK_THROWS_CONTAINING(inside.begin(), "already running", ValueError);
  CHECK_THROWS_CONTAINING(inside.set_state({}), "an iteration is running", ValueError);
}

TEST_CASE("DataLoader workers: batches bitwise equal for any number of workers") {
  TextDataset text = TextDataset::bytes(std::string(2000, 'a') + "attention is all you need", 16, 5);
  std::vector<decltype(one_pass(std::declval<DataLoader&>()))> passes;
  for (int64_t workers : {0, 1, 2, 3}) {
    DataLoader loader(text, {.batch_size = 7, .shuffle = true, .seed = 11, .num_workers = workers, .prefetch_factor = 1});
    std::vector<std::vector<double>> all;
    for (int epoch = 0; epoch < 3; ++epoch)
      for (auto& b : one_pass(loader)) all.insert(all.end(), b.begin(), b.end());
    passes.push_back({all});
  }
  for (size_t w = 1; w < passes.size(); ++w) CHECK(passes[w] == passes[0]);
}

TEST_CASE("DataLoader workers: an exception in a worker reaches the loop") {
  for (int64_t workers : {0, 2}) {
    CAPTURE(workers);
    DataLoader loader(Faulty{20, 13}, {.batch_size = 2, .num_workers = workers});
    int64_t batches = 0;
    CHECK_THROWS_CONTAINING(
        for (Batch& b : loader) {
          CHECK(b[0].to_vector<double>()[0] == static_cast<double>(2 * batches));
          ++batches;
        },
        "example 13 is unreadable", IOError);
    CHECK(batches == 6);                           // batches 0..5 came first, in order
    CHECK(loader.state() == LoaderState{0, 6});    // the failed batch is still to come
  }
}

TEST_CASE("DataLoader workers: leaving a loop early stops the workers") {
  DataLoader loader(numbered(1000), {.batch_size = 1, .num_workers = 3, .prefetch_factor = 4});
  for (int round = 0; round < 20; ++round) {
    int64_t seen = 0;
    for (Batch& b : loader) {
      CHECK(b[1].item() == static_cast<double>(round * 3 + seen));
      if (++seen == 3) break;
    }
  }
  CHECK(loader.state() == LoaderState{0, 60});
}
