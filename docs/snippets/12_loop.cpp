// Chapter 12: a whole training loop of one's own, on the pieces heed holds once
// (tests/reference/loop.py is the same loop in PyTorch).
#include <cmath>
#include <filesystem>

#include "check.h"

using namespace heed;
using tour::check;

// [loop]
struct CharModel : nn::Module {
  CharModel(int64_t vocab, int64_t hidden)
      : emb(register_module("emb", std::make_shared<nn::Embedding>(vocab, hidden))),
        lstm(register_module("lstm", std::make_shared<nn::LSTM>(hidden, hidden, nn::LSTMOptions{.batch_first = true}))),
        head(register_module("head", std::make_shared<nn::Linear>(hidden, vocab))) {}
  Tensor forward(const Tensor& x) const { return (*head)(lstm->forward((*emb)(x)).output); }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
};

double train(const std::string& text, int64_t epochs, const std::string& checkpoint) {
  auto data = data::TextDataset::characters(text, /*block_size=*/16);
  data::DataLoader loader(data, {.batch_size = 16, .shuffle = true, .drop_last = true, .num_workers = 2});
  CharModel model(data.vocab_size(), 64);
  optim::AdamW opt(model.parameters(), {.lr = 3e-3});
  const int64_t steps = epochs * loader.size();
  auto warmup = std::make_shared<optim::LinearWarmup>(opt, 5);
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, steps - 5);
  optim::SequentialLR sched(opt, {warmup, cosine}, {5});
  optim::TrainingState run{.model = &model, .optimizer = &opt, .scheduler = &sched, .loader = &loader};
  if (std::filesystem::exists(checkpoint)) optim::load_training_state(run, checkpoint);

  ProgressBar bar(steps, "train");
  double loss_value = 0;
  while (run.step < steps) {
    for (data::Batch& b : loader) {
      Tensor logits = model.forward(b[0]);
      Tensor loss = nn::cross_entropy(logits.reshape({-1, data.vocab_size()}), b[1].reshape({-1}));
      opt.zero_grad();
      loss.backward();
      nn::clip_grad_norm_(model.parameters(), 1.0);
      opt.step();
      sched.step();
      loss_value = loss.item();
      bar.update(++run.step, {{"loss", loss_value}, {"lr", opt.lr()}});
    }
  }
  optim::save_training_state(run, checkpoint);
  return loss_value;
}
// [end loop]

int main() {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "attention is the heed a model pays to its past. ";
  const std::string checkpoint = "loop.safetensors";
  std::filesystem::remove(checkpoint);
  const double first = train(text, 2, checkpoint);   // trains 2 epochs, saves
  const double again = train(text, 2, checkpoint);   // finds the run finished: no step left
  const double more = train(text, 4, checkpoint);    // two epochs more, from where it stopped
  const double uniform = std::log(static_cast<double>(data::Vocabulary::of_characters(text).size()));
  std::cout << "  losses: " << first << " after 2 epochs, " << more << " after 4 (uniform guess: " << uniform << ")\n";
  check(first < uniform && again == 0 && more < first,
        "the loop learns, resumes a finished run without a step, and continues a longer one");
  return tour::failures();
}
