// Chapter 12: datasets, the loader, its workers, and resuming mid-epoch.
#include "check.h"

using namespace heed;
using tour::check;

// [faulty]
// A dataset is anything with size() and get(i). This one fails at example 13.
struct Flaky {
  int64_t size() const { return 20; }
  data::Example get(int64_t i) const {
    if (i == 13) throw IOError("example 13 is unreadable");
    return {Tensor::full({2}, static_cast<double>(i))};
  }
};
// [end faulty]

// Every number of every batch of one pass.
static std::vector<std::vector<float>> one_pass(data::DataLoader& loader) {
  std::vector<std::vector<float>> pass;
  for (data::Batch& b : loader) pass.push_back(b[0].to_vector<float>());
  return pass;
}

int main() {
  // [text]
  data::TextDataset text = data::TextDataset::bytes("attention is all you need", /*block_size=*/8);
  data::Example e = text.get(1);  // the 9 bytes from byte 8, "n is all ": x = "n is all", y = " is all "
  check(text.size() == 3 && e[0].to_vector<int64_t>()[0] == 'n' && e[1].to_vector<int64_t>()[0] == ' ',
        "25 bytes hold three windows of 9 (from bytes 0, 8, 16); y is x shifted by one");
  // [end text]

  // [loader]
  data::DataLoader loader(text, {.batch_size = 1, .shuffle = true, .seed = 5});
  std::vector<std::vector<float>> epoch0 = one_pass(loader), epoch1 = one_pass(loader);
  data::DataLoader again(text, {.batch_size = 1, .shuffle = true, .seed = 5});
  check(one_pass(again) == epoch0 && loader.state().epoch == 2,
        "epoch e's order depends on (seed, e) alone: another loader repeats it");
  // [end loader]

  // [workers]
  data::TextDataset corpus = data::TextDataset::bytes(std::string(5000, 'x') + "the end", 16, /*stride=*/3);
  data::DataLoader serial(corpus, {.batch_size = 8, .shuffle = true});
  data::DataLoader threaded(corpus, {.batch_size = 8, .shuffle = true, .num_workers = 3});
  check(one_pass(serial) == one_pass(threaded), "three workers give the batches one thread gives, in order");

  data::DataLoader flaky(Flaky{}, {.batch_size = 2, .num_workers = 2});
  int64_t batches = 0;
  check(tour::throws<IOError>([&] { for ([[maybe_unused]] data::Batch& b : flaky) ++batches; }, "example 13"),
        "a worker's exception is thrown in the loop");
  check(batches == 6 && flaky.state().batch == 6, "after the six good batches before it, in order");
  // [end workers]

  // [resume]
  data::DataLoader first(corpus, {.batch_size = 8, .shuffle = true});
  for ([[maybe_unused]] data::Batch& b : first) {
    if (first.state().batch == 10) break;  // ten batches trained, then the process stops
  }
  data::LoaderState saved = first.state();  // {epoch 0, batch 10}: goes into the checkpoint
  data::DataLoader second(corpus, {.batch_size = 8, .shuffle = true});
  second.set_state(saved);
  data::DataLoader uninterrupted(corpus, {.batch_size = 8, .shuffle = true});
  std::vector<std::vector<float>> rest = one_pass(second), whole = one_pass(uninterrupted);
  check(std::equal(rest.begin(), rest.end(), whole.begin() + 10) && rest.size() + 10 == whole.size(),
        "a new loader set to the saved state yields exactly the rest of the epoch");
  // [end resume]
  return tour::failures();
}
