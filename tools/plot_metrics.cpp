// plot_metrics: draws the curves of a metrics log (heed::MetricsLog's JSON Lines)
// as a PNG or an SVG, one line per metric against the step.
//
//   ./build/tools/plot_metrics heed_out/gpt/metrics.jsonl loss.png
//   ./build/tools/plot_metrics run.jsonl curves.svg --metrics loss,val_loss --log-y
//
// A record may hold any of the metrics (validation every 100 steps, training
// every step): each curve has the points its metric was logged at. Nulls (a
// non-finite value) leave a point out. Drawing is the examples' Cairo code
// (examples/common/plot.h); heed itself draws nothing.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/plot.h"
#include "heed/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"Draw the curves of a heed metrics log (JSON Lines) as a PNG or an SVG"};
  std::string log_path, out_path, metrics_list, title;
  bool log_y = false;
  app.add_option("log", log_path, "the .jsonl file MetricsLog wrote")->required()->check(CLI::ExistingFile);
  app.add_option("out", out_path, "the picture to write: .png or .svg")->required();
  app.add_option("--metrics", metrics_list, "comma-separated metrics to draw (default: all)");
  app.add_option("--title", title, "the picture's title (default: the log's file name)");
  app.add_flag("--log-y", log_y, "a logarithmic y axis");
  CLI11_PARSE(app, argc, argv);

  try {
    std::map<std::string, examples::Series> curves;  // by metric name
    std::vector<std::string> order;                  // metrics in the order first seen
    std::ifstream in(log_path);
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw heed::ValueError(heed::msg("plot_metrics: ", log_path, " line ", number, " is not JSON: ", e.what()));
      }
      if (!record.is_object() || !record.contains("step") || !record["step"].is_number())
        throw heed::ValueError(heed::msg("plot_metrics: ", log_path, " line ", number, " has no numeric \"step\""));
      const double step = record["step"].get<double>();
      for (const auto& [name, value] : record.items()) {
        if (name == "step" || !value.is_number()) continue;
        if (!curves.count(name)) order.push_back(name);
        examples::Series& s = curves[name];
        s.name = name;
        s.x.push_back(step);
        s.y.push_back(value.get<double>());
      }
    }
    std::vector<std::string> wanted = order;
    if (!metrics_list.empty()) {
      wanted.clear();
      std::istringstream names(metrics_list);
      for (std::string name; std::getline(names, name, ',');) {
        if (!curves.count(name)) throw heed::ValueError(heed::msg("plot_metrics: the log has no metric '", name, "'"));
        wanted.push_back(name);
      }
    }
    if (wanted.empty()) throw heed::ValueError(heed::msg("plot_metrics: ", log_path, " holds no metrics"));
    std::vector<examples::Series> series;
    for (const std::string& name : wanted) series.push_back(curves[name]);
    const examples::ImageSize size = examples::save_line_plot(
        out_path, series, {.title = title.empty() ? log_path : title, .y_label = "value", .log_y = log_y});
    std::cout << "wrote " << out_path << " (" << size.width << " x " << size.height << ", " << series.size()
              << " curves)\n";
  } catch (const heed::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
