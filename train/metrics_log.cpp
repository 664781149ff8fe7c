#include "heed/train/metrics_log.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "heed/core/error.h"

namespace heed {

namespace {

// Enough digits that a float32 loss reads back as the same float.
std::string number(double v) {
  std::ostringstream out;
  out.precision(9);
  out << v;
  return out.str();
}

std::ofstream open(const std::string& path, bool append) {
  std::ofstream f(path, append ? std::ios::app : std::ios::trunc);
  if (!f) throw IOError(msg("MetricsLog: cannot open ", path, " for writing"));
  return f;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& stem, std::vector<std::string> columns, bool append)
    : columns_(std::move(columns)), jsonl_path_(stem + ".jsonl"), csv_path_(stem + ".csv") {
  for (size_t i = 0; i < columns_.size(); ++i) {
    const std::string& c = columns_[i];
    if (c.empty() || c == "step" || c.find_first_of(",\"\n") != std::string::npos ||
        std::count(columns_.begin(), columns_.end(), c) > 1)
      throw ValueError(msg("MetricsLog: column ", i, " is '", c,
                           "'; columns must be distinct, non-empty, not 'step', without commas, quotes or newlines"));
  }
  const bool csv_exists = append && std::filesystem::exists(csv_path_) && std::filesystem::file_size(csv_path_) > 0;
  jsonl_ = open(jsonl_path_, append);
  csv_ = open(csv_path_, append);
  if (!csv_exists) {
    csv_ << "step";
    for (const std::string& c : columns_) csv_ << "," << c;
    csv_ << "\n" << std::flush;
  }
}

void MetricsLog::log(int64_t step, const Metrics& metrics) {
  std::map<std::string, double> given;
  for (const auto& [name, value] : metrics) {
    if (std::find(columns_.begin(), columns_.end(), name) == columns_.end())
      throw ValueError(msg("MetricsLog::log: '", name, "' is not one of the columns given to the constructor"));
    given[name] = value;
  }
  std::string json = "{\"step\":" + std::to_string(step);
  for (const auto& [name, value] : metrics) {  // appended piece by piece: g++ 12 warns on one long + chain
    json += ',';
    json += nlohmann::json(name).dump();
    json += ':';
    json += std::isfinite(value) ? number(value) : std::string("null");
  }
  jsonl_ << json << "}\n" << std::flush;

  csv_ << step;
  for (const std::string& c : columns_) {
    csv_ << ",";
    if (auto it = given.find(c); it != given.end()) csv_ << number(it->second);
  }
  csv_ << "\n" << std::flush;
  if (!jsonl_ || !csv_) throw IOError(msg("MetricsLog::log: writing ", jsonl_path_, " or ", csv_path_, " failed"));
}

}  // namespace heed
