// A training run's numbers, a record per step, in two files at once:
//
//   run.jsonl   {"step":10,"loss":2.31,"lr":0.0003}     any of the metrics, each record
//   run.csv     step,loss,val_loss,lr                    the columns named up front; a
//               10,2.31,,0.0003                          metric not logged this time is blank
//
//   MetricsLog log("heed_out/run", {"loss", "val_loss", "lr"});
//   log.log(step, {{"loss", loss.item()}, {"lr", opt.lr()}});
//
// JSON Lines is for programs (examples/plot_metrics draws its curves), CSV for
// spreadsheets. Each record is flushed when written, so a crashed run keeps its
// log and a running one can be plotted. A non-finite value is written as null
// in JSON (which has no NaN) and as nan / inf in CSV.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "heed/train/progress.h"

namespace heed {

class MetricsLog {
 public:
  // Opens <stem>.jsonl and <stem>.csv, replacing earlier ones; with append, a
  // resumed run adds to them instead (the CSV header is written only into a new file).
  MetricsLog(const std::string& stem, std::vector<std::string> columns, bool append = false);

  // A metric that is not one of the columns is a ValueError: the CSV has no place for it.
  void log(int64_t step, const Metrics& metrics);

  const std::string& jsonl_path() const { return jsonl_path_; }
  const std::string& csv_path() const { return csv_path_; }

 private:
  std::vector<std::string> columns_;
  std::string jsonl_path_, csv_path_;
  std::ofstream jsonl_, csv_;
};

}  // namespace heed
