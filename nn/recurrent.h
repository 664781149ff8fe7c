// What every recurrent layer (LSTM, GRU) shares, whatever its cell: a stack of
// layers, each run in one or two directions, dropout between the layers, and
// padded batches of different lengths. nn/lstm.cpp and nn/gru.cpp supply only
// "run one direction of one layer over a sequence".
//
// Time-major throughout: seq [T, B, in]; states [L D, B, H], row k D + d being
// layer k, direction d (0 forward, 1 backward), as in PyTorch.
#pragma once

#include <functional>

#include "heed/nn/lstm.h"

namespace heed::nn::recurrent {

// The checks every recurrent layer runs, with the layer's name in each error.
void check_sizes(const char* layer, int64_t input_size, int64_t hidden_size);
// A floating tensor of the parameters' dtype (heed does not convert silently).
void check_dtype(const char* layer, const char* name, const Tensor& t, const Tensor& weight);
// An initial state, if given: of shape `want` (written want_text in the error) and the parameters' dtype.
void check_state(const char* layer, const char* name, const Tensor& s, const Shape& want, const char* want_text,
                 const Tensor& weight);

// One direction of one layer: input [T, B, in], its initial states [B, H] (c is
// undefined for a GRU) -> {output [T, B, H], final h [B, H], final c [B, H] or undefined}.
// `index` is k D + d, the layer's and direction's place in the parameter lists.
using Layer = std::function<LSTMOutput(size_t index, const Tensor& input, const Tensor& h0, const Tensor& c0)>;

struct Stack {
  int64_t num_layers, directions, hidden_size;
  double dropout;  // between layers
  bool training;
  bool has_cell;   // whether the layers keep a c (LSTM) besides h
};

// The whole stack on seq [T, B, in]; h0, c0 [L D, B, H] or undefined (zeros).
// -> {output [T, B, D H], h [L D, B, H], c [L D, B, H] or undefined}
LSTMOutput run(const Stack& config, const Tensor& seq, const Tensor& h0, const Tensor& c0, const Layer& layer);

// The stack over a padded batch: sequence b is real for its first lengths[b]
// steps. Sequences of one length run together, through `whole` (the stack on
// a [T', B', in] batch without padding); the output is zero at the padding.
using Whole = std::function<LSTMOutput(const Tensor& seq, const Tensor& h0, const Tensor& c0)>;
LSTMOutput run_padded(const char* layer_name, const Tensor& seq, const Tensor& lengths, const Tensor& h0,
                      const Tensor& c0, const Whole& whole);

}  // namespace heed::nn::recurrent
