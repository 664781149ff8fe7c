// A small training run that can stop and continue in another process: the test
// of save_training_state / load_training_state (check_resume.cmake runs it).
//
//   resume_train --until 20 --losses all.txt                      20 steps straight
//   resume_train --until 10 --losses first.txt --save run.st      10 steps, then save
//   resume_train --until 20 --losses rest.txt --resume run.st     a new process: load, 10 more
//
// Every part of a run is in play: dropout draws from the default generator, the
// loader shuffles with two workers and crosses an epoch boundary, AdamW keeps
// moments, and a warmup-then-cosine schedule moves the lr each step. Losses are
// written as hex floats, so the comparison is of bits.
#include <heed/heed.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

using namespace heed;

namespace {

// Byte-level next-token model: embedding, LSTM, dropout, linear.
struct Model : nn::UnaryModule {
  Model()
      : emb(register_module("emb", std::make_shared<nn::Embedding>(256, 16))),
        lstm(register_module("lstm", std::make_shared<nn::LSTM>(16, 32, nn::LSTMOptions{.batch_first = true}))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(0.2))),
        head(register_module("head", std::make_shared<nn::Linear>(32, 256))) {}
  Tensor forward(const Tensor& ids) const override {  // [B, T] -> logits [B, T, 256]
    return (*head)((*drop)(lstm->forward((*emb)(ids)).output));
  }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> head;
};

// About 1 KB of text: 15 batches of 4 windows per epoch, so 20 steps cross into epoch 1.
std::string corpus() {
  std::string text;
  for (int i = 0; text.size() < 1000; ++i)
    text += "attention " + std::to_string(i * 7919 % 1000) + (i % 3 ? " is all you need; " : " heeds the past. ");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t until = 0;
  std::string losses_path, save_path, resume_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--until") until = std::stoll(value);
    else if (flag == "--losses") losses_path = value;
    else if (flag == "--save") save_path = value;
    else if (flag == "--resume") resume_path = value;
    else { std::cerr << "unknown flag " << flag << "\n"; return 2; }
  }
  if (until <= 0 || losses_path.empty()) {
    std::cerr << "usage: resume_train --until N --losses FILE [--save PATH] [--resume PATH]\n";
    return 2;
  }

  manual_seed(0);
  auto model = std::make_shared<Model>();
  optim::AdamW opt(model->parameters(), {.lr = 3e-3});
  auto warmup = std::make_shared<optim::LinearWarmup>(opt, 5, 0.1);
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 15);
  optim::SequentialLR sched(opt, {warmup, cosine}, {5});
  data::DataLoader loader(data::TextDataset::bytes(corpus(), 16), {.batch_size = 4, .shuffle = true, .seed = 1,
                                                                   .drop_last = true, .num_workers = 2});
  optim::TrainingState run{.model = model.get(), .optimizer = &opt, .scheduler = &sched, .loader = &loader};
  if (!resume_path.empty()) optim::load_training_state(run, resume_path);

  std::ofstream losses(losses_path);
  losses << std::hexfloat;
  while (run.step < until) {
    for (data::Batch& batch : loader) {
      Tensor logits = (*model)(batch[0]);  // [B, T, 256]
      Tensor loss = nn::cross_entropy(logits.reshape({-1, 256}), batch[1].reshape({-1}));
      opt.zero_grad();
      loss.backward();
      opt.step();
      sched.step();
      ++run.step;
      losses << run.step << " " << loss.item<float>() << "\n";
      if (run.step == until) break;
    }
  }
  if (!save_path.empty()) optim::save_training_state(run, save_path);
  return 0;
}
