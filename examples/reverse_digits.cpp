// reverse_digits: an LSTM encoder-decoder with attention learns to write a
// sequence of digits backwards, and the picture of where it looks is the lesson.
//
//   reverse_digits                            # under a minute on 2 cores; pictures in heed_out/
//   reverse_digits --check                    # exit 1 unless >= 99% of held-out sequences come out right
//   reverse_digits --steps 30 --check-smoke   # seconds: exit 1 unless the loss fell and the files exist
//
// THE LESSON. An encoder-decoder without attention squeezes the whole input into
// one vector, the encoder's last state, and the decoder must unpack it in the
// opposite order. The first digit it writes is the last one the encoder read
// (easy), but the last one it writes is the first one read, up to 15 steps and
// as many overwrites of that vector ago (hard): such models get worse the longer
// the sequence. Attention removes the squeeze. At every output step the decoder
// scores every source position against its own state, turns the scores into
// weights with a softmax, and reads the weighted average of what is there (the
// context). Reversing a sequence of length L, output i is source digit L-1-i, so
// the decoder learns to put nearly all its weight on that one position and copy
// the digit it finds. Draw the weights with the outputs down and the source
// positions across, and the algorithm "read the input backwards" appears as a
// line from the top right corner to the bottom left: the anti-diagonal. This
// program trains the model, tests it on sequences it never saw, and draws that
// picture.
//
// The setup, step by step below:
//   data      random digit sequences of length 5..15; the target is the reversal
//             followed by <eos>. A DataLoader serves them in batches, and since a
//             batch mixes lengths, its pad_collate pads the shorter sequences with
//             <pad>: the attention mask hides the padding (its weight is exactly
//             0), the loss ignores padded targets (ignore_index), and the decoder
//             starts from the encoder's state at each sequence's own last digit,
//             not after its padding.
//   model     Embedding, an LSTM encoder whose states are the keys, the digits'
//             embeddings as the values, an LSTM decoder, Luong's "general"
//             attention score q^T W k, and a Linear from [decoder state, context]
//             to the 13 tokens.
//   training  teacher forcing (the decoder reads the true previous digit), Adam,
//             gradient clipping, the learning rate annealed along a cosine.
//   testing   greedy decoding (the decoder reads its own previous output) of 1000
//             held-out sequences, until it writes <eos>; a sequence counts as right
//             only if every digit and the length are right.
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/distributed.h"
#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"

using namespace heed;

namespace {

// ---- the data ----------------------------------------------------------------------
// Tokens 0..9 are the digits; three more mark the start and end of an output and
// fill the space after a short sequence.
constexpr int64_t kBos = 10, kEos = 11, kPad = 12, kVocab = 13;
constexpr int64_t kMinLength = 5, kMaxLength = 15;

using Sequence = std::vector<int64_t>;

std::string token_name(int64_t token) {
  if (token == kBos) return "<bos>";
  if (token == kEos) return "<eos>";
  if (token == kPad) return "<pad>";
  return std::to_string(token);
}

std::string to_text(const Sequence& s) {
  std::string text;
  for (int64_t t : s) text += token_name(t);
  return text;
}

Sequence reversed(const Sequence& s) { return Sequence(s.rbegin(), s.rend()); }

// A length in [5, 15], then that many digits, all uniform. The data have their
// own generator (not the one behind the weights), so changing the model's size
// does not change the data.
Sequence random_sequence(Generator& rng) {
  Sequence s(static_cast<size_t>(rng.randint(kMinLength, kMaxLength + 1)));
  for (int64_t& d : s) d = rng.randint(0, 10);
  return s;
}

// The held-out set: n distinct sequences. There are 10^5 of length 5 and far more
// of every other length, so duplicates are rare, but one would count twice.
std::vector<Sequence> held_out_sequences(Generator& rng, size_t n) {
  std::set<Sequence> seen;
  std::vector<Sequence> out;
  while (out.size() < n)
    if (Sequence s = random_sequence(rng); seen.insert(s).second) out.push_back(s);
  return out;
}

// The training sequences: fresh random ones, none of them in the held-out set, so
// the held-out accuracy measures what the model learned, not what it memorised.
// Every batch of the run gets its own (steps x batch of them, drawn up front).
std::vector<Sequence> training_sequences(Generator& rng, size_t n, const std::set<Sequence>& held_out) {
  std::vector<Sequence> out;
  while (out.size() < n)
    if (Sequence s = random_sequence(rng); !held_out.count(s)) out.push_back(s);
  return out;
}

// One example is three token sequences. For the source 3 1 4:
//   src     3 1 4               the digits
//   dec_in  <bos> 4 1 3         what the decoder reads (teacher forcing: the true previous token)
//   target  4 1 3 <eos>         what it must write
data::Example reversal_example(const Sequence& s) {
  const auto L = static_cast<int64_t>(s.size());
  Sequence dec_in = {kBos}, target = reversed(s);  // output i is source digit L-1-i
  dec_in.insert(dec_in.end(), target.begin(), target.end());
  target.push_back(kEos);
  return {Tensor::from_vector(s, {L}), Tensor::from_vector(dec_in, {L + 1}), Tensor::from_vector(target, {L + 1})};
}

// The data layer's view of the sequences: a Dataset (size, get) for the DataLoader.
struct ReversalDataset {
  std::vector<Sequence> sequences;
  int64_t size() const { return static_cast<int64_t>(sequences.size()); }
  data::Example get(int64_t i) const {
    if (i < 0 || i >= size()) data::throw_bad_index("ReversalDataset", i, size());
    return reversal_example(sequences[static_cast<size_t>(i)]);
  }
};

// A batch mixes lengths, so pad_collate pads every field at the end with <pad> to
// the batch's longest, and reports where the padding is and each length. For
// 3 1 4 in a batch whose longest sequence has 5 digits (S = 5, T = S + 1):
//   src     3 1 4 <pad> <pad>
//   dec_in  <bos> 4 1 3 <pad> <pad>
//   target  4 1 3 <eos> <pad> <pad>     <pad> is not scored
// The model wants two more things, made from the mask and the lengths here.
struct Batch {
  Tensor src;      // [B, S] int64
  Tensor padding;  // [B, 1, S] 1 where src is <pad>: hidden from attention
  Tensor last;     // [B] int64: row b*S + L_b - 1 of the encoder states flattened to [B*S, H]
  Tensor dec_in;   // [B, T] int64
  Tensor target;   // [B, T] int64
};

const data::Collate pad_with_pad_token = data::pad_collate(static_cast<double>(kPad));

Batch model_batch(const data::Batch& padded) {
  const Tensor& src = padded[0];
  const int64_t B = src.size(0), S = src.size(1);
  std::vector<int64_t> last = padded.lengths[0].to_vector<int64_t>();  // L_b
  for (int64_t b = 0; b < B; ++b) last[b] += b * S - 1;                // b*S + L_b - 1
  return {src, padded.masks[0].to(kFloat32).unsqueeze(1), Tensor::from_vector(last, {B}), padded[1], padded[2]};
}

Batch make_batch(const std::vector<Sequence>& seqs) {
  std::vector<data::Example> examples;
  for (const Sequence& s : seqs) examples.push_back(reversal_example(s));
  return model_batch(pad_with_pad_token(examples));
}

// ---- the model ----------------------------------------------------------------------------
// Shapes: B batch, S source positions, T output steps, E embedding width, H hidden
// size, V = 13 tokens.
//
//   encoder   keys = LSTM(embed(src))                     [B, S, H]   where each digit is
//             values = embed(src)                         [B, S, E]   what each digit is
//   decoder   h_t = LSTM step(embed(y_{t-1}), h_{t-1})     [B, T, H]   from the state at the last digit
//             weights_t = softmax_j(h_t^T W keys_j)       [B, T, S]   padding hidden
//             context_t = sum_j weights_tj values_j       [B, T, E]
//             logits_t = out([h_t, context_t])            [B, T, V]
//
// Keys and values are different things on purpose. A key must say WHERE a digit
// is: the encoder's state at position j has counted the digits up to j, which
// the decoder, counting down from the length, can match. A value must say WHAT
// the digit is, and nothing else: its embedding. Then the only way to learn
// digit j is to look at position j, and the map is a clean anti-diagonal. (With
// the LSTM states as the values too, the model still reverses 99.6% of the
// held-out sequences, but only 10% of its attention peaks sit on the mirrored
// digit: it looks one position to the right, because the state at j+1 still
// remembers digit j, and reading it there works as well. Attention maps show
// where a model looks, which is not always where a person would.)
//
// Luong et al. also feed each step's context into the next step's input ("input
// feeding"). Here it would add nothing the previous token does not already say
// (the context IS the digit just read), and leaving it out buys speed: with
// teacher forcing every decoder input is known in advance, so the decoder is one
// fused LSTM pass over all T steps and the attention of all T queries is one
// batched product, instead of T small steps each.

// The encoder's output, computed once per batch and read by every decoder step.
struct Memory {
  Tensor keys;     // [B, S, H]
  Tensor values;   // [B, S, E]
  Tensor padding;  // [B, 1, S]
  Tensor h, c;     // [1, B, H]: the decoder's starting state (1 = one LSTM layer)
};

// What the decoder makes of T steps.
struct Decoded {
  Tensor logits;   // [B, T, V]
  Tensor weights;  // [B, T, S]
  Tensor h, c;     // [1, B, H]: the state after the last step, to go on from
};

class Reverser : public nn::Module {
 public:
  Reverser(int64_t E, int64_t H)
      : hidden_size(H),
        // One table for both sides: a digit is the same digit in the source and the output.
        embed(register_module("embed", std::make_shared<nn::Embedding>(kVocab, E, kPad))),
        encoder(register_module("encoder", std::make_shared<nn::LSTM>(E, H, nn::LSTMOptions{.batch_first = true}))),
        decoder(register_module("decoder", std::make_shared<nn::LSTM>(E, H, nn::LSTMOptions{.batch_first = true}))),
        attention(register_module("attention", std::make_shared<nn::GeneralAttention>(H, H))),
        out(register_module("out", std::make_shared<nn::Linear>(H + E, kVocab))) {}

  Memory encode(const Batch& batch) const {
    const int64_t B = batch.src.size(0), S = batch.src.size(1), H = hidden_size;
    Tensor values = (*embed)(batch.src);  // [B, S, E]
    // contiguous(): the batch-first output is a transposed view, and every decoder
    // step reads it; lay it out once.
    Tensor keys = (*encoder)(values).output.contiguous();  // [B, S, H]
    // Start from the state after each sequence's own last digit: the encoder's
    // final state has read the padding too. The LSTM hands back every step's h
    // but only the final c, so the cell starts at 0; h carries the message.
    Tensor h0 = index_select(keys.reshape({B * S, H}), 0, batch.last).unsqueeze(0);  // [1, B, H]
    return {keys, values, batch.padding, h0, Tensor::zeros({1, B, H})};
  }

  // T decoder steps, given the T tokens they read (all known in advance under
  // teacher forcing; one at a time in greedy decoding). tokens: [B, T] int64.
  Decoded decode(const Tensor& tokens, const Tensor& h, const Tensor& c, const Memory& memory) const {
    nn::LSTMOutput state = (*decoder)((*embed)(tokens), h, c);
    // contiguous(): as in encode; the attention's first product is then one gemm.
    Tensor queries = state.output.contiguous();  // [B, T, H]
    // Each decoder state asks the source one question: "which position do I write now?"
    auto [context, weights] = (*attention)(queries, memory.keys, memory.values,
                                           memory.padding);  // [B, T, E], [B, T, S]
    // The output reads the decoder's state (how far it has got) and the context
    // (the digit it is looking at).
    Tensor logits = (*out)(cat({queries, context}, -1));  // [B, T, H + E] -> [B, T, V]
    return {logits, weights, state.h, state.c};
  }

  // Teacher forcing: step t reads the true token t-1.  ->  logits [B, T, V]
  Tensor forward(const Batch& batch) const {
    Memory memory = encode(batch);
    return decode(batch.dec_in, memory.h, memory.c, memory).logits;
  }

  int64_t hidden_size;
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> encoder, decoder;
  std::shared_ptr<nn::GeneralAttention> attention;
  std::shared_ptr<nn::Linear> out;
};

// ---- testing: greedy decoding ------------------------------------------------------------------
// The decoder now reads its own previous output, as it must when there is no
// answer to copy, so it runs one step at a time. Every sequence runs
// kMaxLength + 1 steps (the longest answer plus <eos>); each output is cut at
// its first <eos>.
struct Prediction {
  std::vector<Sequence> outputs;  // without the <eos>; one that never wrote <eos> keeps every step
  std::vector<bool> stopped;      // whether it wrote <eos>
  Tensor weights;                 // [B, steps, S]: the attention at every step
};

Prediction greedy_decode(const Reverser& model, const std::vector<Sequence>& seqs) {
  NoGradGuard no_grad;
  Batch batch = make_batch(seqs);
  const int64_t B = batch.src.size(0), steps = kMaxLength + 1;
  Memory memory = model.encode(batch);
  Tensor h = memory.h, c = memory.c;
  Tensor token = Tensor::full({B, 1}, static_cast<double>(kBos), kInt64);  // [B, 1]
  std::vector<Tensor> tokens, weights;
  for (int64_t t = 0; t < steps; ++t) {
    Decoded d = model.decode(token, h, c, memory);  // one step: logits [B, 1, V]
    token = argmax(d.logits, -1);                   // [B, 1]: the likeliest token
    h = d.h, c = d.c;
    tokens.push_back(token);
    weights.push_back(d.weights);  // [B, 1, S]
  }
  std::vector<int64_t> all = cat(tokens, 1).to_vector<int64_t>();  // [B, steps]
  Prediction p{std::vector<Sequence>(B), std::vector<bool>(B, false), cat(weights, 1)};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < steps && !p.stopped[b]; ++t) {
      if (all[b * steps + t] == kEos) p.stopped[b] = true;
      else p.outputs[b].push_back(all[b * steps + t]);
    }
  return p;
}

bool correct(const Prediction& p, size_t b, const Sequence& source) {
  return p.stopped[b] && p.outputs[b] == reversed(source);
}

// How often an output digit's strongest attention is on the mirrored source
// position (output i on source L-1-i): how much of the map is the anti-diagonal.
double anti_diagonal_fraction(const Prediction& p, const std::vector<Sequence>& seqs) {
  const int64_t steps = p.weights.size(1), S = p.weights.size(2);
  std::vector<float> w = p.weights.to_vector();
  int64_t on = 0, total = 0;
  for (size_t b = 0; b < seqs.size(); ++b) {
    const int64_t L = static_cast<int64_t>(seqs[b].size());
    for (int64_t i = 0; i < L; ++i, ++total) {
      const float* row = &w[(static_cast<int64_t>(b) * steps + i) * S];
      on += std::max_element(row, row + L) - row == L - 1 - i;
    }
  }
  return static_cast<double>(on) / static_cast<double>(total);
}

// The mean of losses[begin, end): single batches are noisy, a tenth of the run is not.
double mean_of(const std::vector<double>& v, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += v[i];
  return sum / static_cast<double>(end - begin);
}

}  // namespace

int main(int argc, char** argv) {
  // ---- options ---------------------------------------------------------------------------------
  CLI::App app{"An LSTM encoder-decoder with attention learns to reverse sequences of 5 to 15 digits"};
  uint64_t seed = 0;
  int64_t steps = 1000, batch_size = 64, embed_dim = 32, hidden = 128, held_out_size = 1000, workers = 0;
  double lr = 5e-3, clip = 1.0;
  std::string out_dir = "heed_out";
  bool check = false, check_smoke = false;
  examples::add_common_options(app, seed, steps, out_dir, check,
                               "training steps, one batch each",
                               "exit 1 unless held-out accuracy >= 0.99, >= 95% of the attention peaks are on the "
                               "anti-diagonal, the loss fell and the files exist");
  app.add_option("--batch", batch_size, "sequences per batch")->check(CLI::PositiveNumber);
  app.add_option("--hidden", hidden, "LSTM hidden size H")->check(CLI::PositiveNumber);
  app.add_option("--embed", embed_dim, "embedding width E")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam's starting learning rate, annealed to 0 along a cosine")
      ->check(CLI::PositiveNumber);
  app.add_option("--clip", clip, "the largest gradient norm let through")->check(CLI::PositiveNumber);
  app.add_option("--held-out", held_out_size, "number of held-out test sequences")
      ->check(CLI::PositiveNumber);
  app.add_option("--workers", workers, "DataLoader threads building batches ahead (0: in the loop)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--check-smoke", check_smoke, "exit 1 unless the loss fell and the files exist");
  examples::Distributed distributed;
  distributed.add_option(app);
  CLI11_PARSE(app, argc, argv);
  examples::prepare_run(seed, out_dir);
  distributed.start(argc, argv);  // with --distributed: MPI, for the whole run
  const bool chief = distributed.chief();  // rank 0 (or the only process) prints and writes
  const std::filesystem::path dir(out_dir);
  Generator data_rng(seed + 1);  // the data's own stream: see random_sequence
  const auto start = std::chrono::steady_clock::now();

  // ---- data and model ---------------------------------------------------------------------------
  const std::vector<Sequence> held_out = held_out_sequences(data_rng, static_cast<size_t>(held_out_size));
  const std::set<Sequence> held_out_set(held_out.begin(), held_out.end());
  auto shared_model = std::make_shared<Reverser>(embed_dim, hidden);
  Reverser& model = *shared_model;
  // With --distributed: rank 0's weights everywhere, gradients averaged in backward
  // (each rank's loss is the mean over its own sequences' tokens, so the ranks
  // weigh equally, as in PyTorch's DistributedDataParallel).
  distributed.wrap(shared_model);
  optim::Adam opt(model.parameters(), {.lr = lr});
  // Large steps early, small ones late: the last few mistakes are fixed by fine steps.
  optim::CosineAnnealingLR schedule(opt, steps);
  if (chief)
    std::cout << "reversing digit sequences of length " << kMinLength << " to " << kMaxLength << ": "
            << model.num_parameters() << " parameters (E " << embed_dim << ", H " << hidden << "), "
            << steps << " steps of " << batch_size << " sequences, " << held_out.size()
            << " held-out sequences"
              << (distributed.on() ? msg(", on ", distributed.size(), " processes") : std::string()) << "\n";

  // One batch per step, in order (the sequences are random already). Padding a
  // batch takes microseconds beside a step's milliseconds, so by default the loop
  // does it; --workers N builds batches ahead in N threads, the same bits.
  // Distributed, each rank takes batch / N of every batch.
  data::DataLoader loader(
      ReversalDataset{training_sequences(data_rng, static_cast<size_t>(steps * batch_size), held_out_set)},
      {.batch_size = distributed.share(batch_size), .num_workers = workers,
       .sampler = distributed.sampler(std::make_shared<data::SequentialSampler>()), .collate = pad_with_pad_token});

  // ---- train: teacher forcing, cross-entropy on every real output token -------------------------
  std::vector<double> losses;
  std::optional<heed::ProgressBar> bar;
  if (chief) bar.emplace(steps, "train");
  const auto train_start = std::chrono::steady_clock::now();
  int64_t step = 0;
  for (const data::Batch& padded : loader) {
    ++step;
    const Batch batch = model_batch(padded);
    Tensor logits = model.forward(batch);  // [B, T, V]
    // [B*T, V] against [B*T]: the padded targets are skipped and not counted in the mean.
    Tensor loss = nn::cross_entropy(logits.reshape({-1, kVocab}), batch.target.reshape({-1}),
                                    {.ignore_index = kPad});
    opt.zero_grad();
    loss.backward();
    // An LSTM's gradient can spike on an unlucky batch; capping its norm keeps one
    // such batch from undoing what the others taught.
    nn::clip_grad_norm_(model.parameters(), clip);
    opt.step();
    schedule.step();
    losses.push_back(distributed.average(loss.item()));  // the whole batch's loss
    if (bar) bar->update(step, losses.back());
  }
  if (!chief) return 0;  // the other ranks only train
  bar->finish();
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();

  // ---- test on the held-out sequences -----------------------------------------------------------
  const Prediction predicted = greedy_decode(model, held_out);
  int64_t right = 0;
  for (size_t b = 0; b < held_out.size(); ++b) right += correct(predicted, b, held_out[b]);
  const double accuracy = static_cast<double>(right) / static_cast<double>(held_out.size());
  const double diagonal = anti_diagonal_fraction(predicted, held_out);
  std::cout << std::fixed << std::setprecision(4) << "\nheld-out whole-sequence accuracy: " << accuracy << " ("
            << right << " of " << held_out.size() << " reversed exactly, greedy decoding)\n"
            << "output digits whose strongest attention is on the mirrored source digit: " << diagonal << "\n";

  // A few examples: the first four, and the first mistake if there is one.
  std::vector<size_t> shown;
  for (size_t b = 0; b < std::min<size_t>(4, held_out.size()); ++b) shown.push_back(b);
  for (size_t b = shown.size(); b < held_out.size(); ++b)
    if (!correct(predicted, b, held_out[b])) {
      shown.push_back(b);
      break;
    }
  std::cout << "\nexamples (source -> output):\n";
  for (size_t b : shown) {
    const bool ok = correct(predicted, b, held_out[b]);
    std::string output = to_text(predicted.outputs[b]) + (predicted.stopped[b] ? "" : "...");
    std::cout << "  " << std::setw(kMaxLength) << to_text(held_out[b]) << " -> " << std::left
              << std::setw(kMaxLength + 3) << output << std::right
              << (ok ? "right" : "WRONG (should be " + to_text(reversed(held_out[b])) + ")") << "\n";
  }

  // ---- the attention map of one example ---------------------------------------------------------
  // The first held-out sequence of length 12 (or the first one, if none is): rows
  // are the outputs (each digit, then <eos>), columns the source digits. The
  // padding columns (weight 0) and the steps after <eos> are cut off.
  size_t pick = 0;
  while (pick + 1 < held_out.size() && held_out[pick].size() != 12) ++pick;
  if (held_out[pick].size() != 12) pick = 0;
  const Sequence& source = held_out[pick];
  std::vector<std::string> source_labels, output_labels;
  for (int64_t d : source) source_labels.push_back(token_name(d));
  for (int64_t d : predicted.outputs[pick]) output_labels.push_back(token_name(d));
  if (predicted.stopped[pick]) output_labels.push_back(token_name(kEos));
  const int64_t rows = static_cast<int64_t>(output_labels.size()), L = static_cast<int64_t>(source.size());
  // [rows, L]: this example's steps up to its <eos>, and its real (unpadded) source positions
  Tensor map = predicted.weights.select(0, static_cast<int64_t>(pick)).slice(0, 0, rows).slice(1, 0, L);
  std::cout << "\nwhere the decoder looks while reversing " << to_text(source)
            << " (rows: what it writes, columns: the source):\n"
            << examples::ascii_heatmap(map, output_labels, source_labels, {.vmin = 0.0, .vmax = 1.0});

  std::vector<std::string> written;
  for (const char* ext : {".png", ".svg"}) {
    std::string path = (dir / (std::string("reverse_digits_attention") + ext)).string();
    examples::save_heatmap(path, map, output_labels, source_labels,
                           {.title = "attention while reversing " + to_text(source),
                            .x_label = "source digit", .y_label = "output token", .vmin = 0.0, .vmax = 1.0});
    written.push_back(path);
  }
  // The loss of every batch, and its running mean over 50 batches, which shows the trend.
  std::vector<double> smooth;
  for (size_t i = 0; i < losses.size(); ++i) smooth.push_back(mean_of(losses, i >= 49 ? i - 49 : 0, i + 1));
  const std::string curve = (dir / "reverse_digits_loss.png").string();
  examples::save_line_plot(curve, {{"batch", {}, losses}, {"mean of 50", {}, smooth}},
                           {.title = "reversing digits: cross-entropy per output token", .log_y = true});
  written.push_back(curve);
  std::cout << "\n";
  for (const std::string& path : written) std::cout << "wrote " << path << "\n";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << std::setprecision(1) << "took " << seconds << " s (training " << train_seconds << " s, "
            << static_cast<double>(steps) / train_seconds << " steps/s)\n";

  // ---- what the run should show -----------------------------------------------------------------
  if (!check && !check_smoke) return 0;
  std::vector<std::string> failures;
  const size_t window = std::max<size_t>(1, losses.size() / 10);
  const double first = mean_of(losses, 0, window);
  const double last = mean_of(losses, losses.size() - window, losses.size());
  if (!std::isfinite(last)) failures.push_back("the loss is not finite");
  if (!(last < first)) failures.push_back("the loss did not decrease");
  for (const std::string& path : written)
    if (!examples::file_written(path)) failures.push_back("missing or empty: " + path);
  if (check && !(accuracy >= 0.99))
    failures.push_back("held-out accuracy " + std::to_string(accuracy) + " < 0.99");
  if (check && !(diagonal >= 0.95))
    failures.push_back("only " + std::to_string(diagonal) +
                       " of the attention peaks are on the anti-diagonal (< 0.95)");
  std::cout << std::setprecision(4);
  for (const std::string& f : failures) std::cout << "check FAILED: " << f << "\n";
  if (!failures.empty()) return 1;
  std::cout << "check passed: the loss decreased (" << first << " -> " << last << ", mean of the first and last "
            << window << " batches)";
  if (check) std::cout << ", held-out accuracy " << accuracy << " >= 0.99, attention peaks on the anti-diagonal "
                       << diagonal << " >= 0.95";
  std::cout << ", files written\n";
  return 0;
}
