// The training kit (train/): the progress bar, the metrics log, gradient accumulation.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"

using namespace heed;
using namespace heed::text;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("ProgressBar") {
  SUBCASE("plain: a line at the start and every tenth, none with '\\r'; metrics keep their place") {
    std::ostringstream out;
    {
      ProgressBar bar(100, "train", out, ProgressBar::Mode::Plain);
      CHECK_FALSE(bar.live());
      for (int64_t step = 1; step <= 100; ++step) {
        if (step == 50) bar.update(step, {{"loss", 1.0 / step}, {"val", 0.5}});
        else bar.update(step, 1.0 / step);
      }
      bar.finish();
    }
    std::vector<std::string> lines = lines_of(out.str());
    CHECK(lines.size() == 1 + 9 + 1);  // step 1; steps 10, 20, ..., 90; the final line
    CHECK(out.str().find('\r') == std::string::npos);
    CHECK(lines[0].find("train  1/100  1%  loss 1  ") == 0);
    CHECK(lines[5].find("50/100  50%  loss 0.02  val 0.5  ") != std::string::npos);
    CHECK(lines.back().find("100/100  100%  loss 0.01  val 0.5  ") != std::string::npos);  // val: its last value
    CHECK(lines.back().find("took") != std::string::npos);
    CHECK(lines[1].find("ETA") != std::string::npos);
  }
  SUBCASE("live: redraws with '\\r', ends with a newline; the destructor finishes") {
    std::ostringstream out;
    {
      ProgressBar bar(3, "fit", out, ProgressBar::Mode::Live);
      bar.update(1, 0.5);
      bar.update(3, {{"loss", 0.25}, {"lr", 0.001}});
    }
    const std::string s = out.str();
    CHECK(s.find("\rfit [") == 0);
    CHECK(s.find("3/3  100%  loss 0.25  lr 0.001") != std::string::npos);
    CHECK(s.find("took") != std::string::npos);
    CHECK(s.back() == '\n');
    CHECK(std::count(s.begin(), s.end(), '\n') == 1);
  }
  SUBCASE("auto on a string stream is plain; bad steps throw") {
    std::ostringstream out;
    ProgressBar bar(10, "x", out);
    CHECK_FALSE(bar.live());
    CHECK_THROWS_CONTAINING(bar.update(11, 0.0), "step is 11; it must be in 0..10", ValueError);
    CHECK_THROWS_CONTAINING(ProgressBar(0, "x", out), "at least 1 step", ValueError);
  }
  SUBCASE("text helpers count characters, not bytes") {
    CHECK(display_width("█░x") == 3);
    CHECK(first_chars("été!", 2) == "ét");
    CHECK(clock_time(4.24) == "4.2s");
    CHECK(clock_time(187) == "3:07");
    CHECK(clock_time(3723) == "1:02:03");
  }
}

TEST_CASE("MetricsLog: JSON Lines and CSV, flushed as written") {
  const std::string stem = (std::filesystem::temp_directory_path() / "heed_test_metrics").string();
  {
    MetricsLog log(stem, {"loss", "val_loss", "lr"});
    log.log(1, {{"loss", 2.5}, {"lr", 0.001}});
    log.log(2, {{"loss", 2.25}, {"val_loss", 2.75}, {"lr", 0.002}});
    CHECK(read_file(stem + ".csv") == "step,loss,val_loss,lr\n1,2.5,,0.001\n2,2.25,2.75,0.002\n");  // before closing
    log.log(3, {{"loss", std::nan("")}});
    CHECK_THROWS_CONTAINING(log.log(4, {{"accuracy", 1}}), "'accuracy' is not one of the columns", ValueError);
  }
  CHECK(lines_of(read_file(stem + ".jsonl")) ==
        std::vector<std::string>{R"({"step":1,"loss":2.5,"lr":0.001})", R"({"step":2,"loss":2.25,"val_loss":2.75,"lr":0.002})",
                                 R"({"step":3,"loss":null})"});
  CHECK(lines_of(read_file(stem + ".csv")).at(3) == "3,nan,,");
  {
    MetricsLog resumed(stem, {"loss", "val_loss", "lr"}, /*append=*/true);
    resumed.log(4, {{"loss", 2.0}});
  }
  CHECK(lines_of(read_file(stem + ".csv")).size() == 5);  // one header, four records
  CHECK_THROWS_CONTAINING(MetricsLog(stem, {"loss", "loss"}), "columns must be distinct", ValueError);
  CHECK_THROWS_AS(MetricsLog("/nonexistent/dir/run", {"loss"}), IOError);
  std::filesystem::remove(stem + ".jsonl");
  std::filesystem::remove(stem + ".csv");
}

TEST_CASE("GradientAccumulation: 4 micro-batches of 2 step like one batch of 8") {
  manual_seed(5);
  Tensor x = Tensor::randn({8, 3}), y = Tensor::randn({8, 2});
  nn::Linear whole(3, 2), parts(3, 2);
  parts.load_state_dict(whole.state_dict());
  optim::SGD opt_whole(whole.parameters(), {.lr = 0.1}), opt_parts(parts.parameters(), {.lr = 0.1});

  nn::mse_loss(whole(x), y).backward();
  opt_whole.step();

  GradientAccumulation accumulate(opt_parts, 4);
  std::vector<bool> stepped;
  for (int64_t k = 0; k < 4; ++k)
    stepped.push_back(accumulate.backward(nn::mse_loss(parts(x.slice(0, 2 * k, 2 * k + 2)), y.slice(0, 2 * k, 2 * k + 2))));
  CHECK(stepped == std::vector<bool>{false, false, false, true});
  CHECK(accumulate.pending() == 0);
  CHECK(!parts.weight.grad().defined());  // zeroed after the step
  heed::test::check_values(parts.weight, whole.weight.to_vector<double>(), 1e-6);
  heed::test::check_values(parts.bias, whole.bias.to_vector<double>(), 1e-6);
  CHECK_THROWS_CONTAINING(GradientAccumulation(opt_parts, 0), "micro_batches is 0", ValueError);
  CHECK_THROWS_CONTAINING(accumulate.backward(Tensor::ones({2})), "the loss must be one number", ShapeError);
}
