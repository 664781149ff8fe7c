// The training kit: what a loop needs around the model and the optimizer.
//   progress.h      a progress bar with live metrics (plain lines off a terminal)
//   metrics_log.h   metrics to JSON Lines and CSV (examples/plot_metrics draws them)
//   accumulate.h    gradient accumulation over micro-batches
//   text.h          text in terminal columns
// It sits at the top of the layers: it may use all of heed, and nothing in heed
// depends on it. Its names are in namespace heed itself (heed::ProgressBar): a
// namespace heed::train would clash with the train() function every training
// program has, once it says `using namespace heed`.
#pragma once

#include "heed/train/accumulate.h"
#include "heed/train/metrics_log.h"
#include "heed/train/progress.h"
#include "heed/train/text.h"
