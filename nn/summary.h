// A table of a model's modules, like torchinfo's summary():
//
//   std::cout << nn::summary(model);                                  // modules and parameter counts
//   std::cout << nn::summary(model, [&] { model.forward(x); });       // and each one's output shape
//
//   module          type        output          parameters
//   (model)         CharModel   -                   35,860
//   emb             Embedding   [16, 16, 64]         1,280
//   lstm            LSTM        [16, 16, 64]        33,280
//   head            Linear      [16, 16, 20]         1,300
//   35,860 parameters (35,860 trainable)
//
// Each module's count includes its submodules' (a shared parameter once). With
// a run, the model is run once under no-grad, and every output a module hands to
// Module::report_output is recorded: every heed layer's forward does (LSTM and
// attention report their main output), as does UnaryModule::operator() for
// modules of your own. A module called more than once shows its last output, one
// never reported "-".
#pragma once

#include <functional>
#include <string>

#include "heed/nn/module.h"

namespace heed::nn {

std::string summary(const Module& model, const std::function<void()>& run = {});

}  // namespace heed::nn
