"""Reference values for tests/test_nn_lstm.cpp, computed with PyTorch 1.13.

Run from the repository root with Debian's python (the one that has torch):
    /usr/bin/python3 tests/reference/lstm.py
It writes tests/reference/fixtures/lstm.safetensors (float32) and prints the
parameter names in PyTorch's order (test_nn_lstm.cpp hard-codes them).

Each case stores, under "<case>.":
  params.<name>       the layer's weights, named as heed's (and PyTorch's) state dict
  x, h0, c0           the inputs (h0, c0 only where the case passes them)
  out, h, c           the forward results
  grad.<input>        gradients of the inputs      } for the loss
  grad.params.<name>  gradients of the parameters  } (out*R).sum() + (h*R2).sum() + (c*R3).sum()
  R, R2, R3           the random weights of that loss
The loss weighs h and c separately so that the backward paths into the final
states (not only the output's) are checked too. For LSTMCell, out is h' and the
loss is (h'*R).sum() + (c'*R3).sum() (there is no separate output).

Cases:
  lstm    LSTM(4, 6, num_layers=2, batch_first=True), x [B=3, T=5, 4], with (h0, c0)
  lstm0   LSTM(3, 4), time-major x [T=7, B=2, 3], no initial state (zeros)
  cell    LSTMCell(4, 5), x [3, 4], with (h0, c0)
  cell0   LSTMCell(4, 5), x [3, 4], no state (zeros)
  bilstm  LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True, dropout=0.3) in
          eval mode (no dropout), x [B=3, T=6, 4], with (h0, c0) [4, 3, 5]
  packed  LSTM(3, 4, num_layers=2, bidirectional=True), x [T=5, B=4, 3] padded, lengths
          [5, 2, 4, 2] (also stored, as packed.lengths): pack_padded_sequence(x, lengths,
          enforce_sorted=False), the LSTM, pad_packed_sequence(total_length=5)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
OUT = {}


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_()


def store(case, module, inputs, out, h, c):
    """Saves params, inputs, outputs, and the gradients of the weighted-sum loss."""
    R, R2, R3 = torch.randn(out.shape), torch.randn(h.shape), torch.randn(c.shape)
    loss = (out * R).sum() + (c * R3).sum()
    if h is not out:
        loss = loss + (h * R2).sum()
    loss.backward()
    for name, p in module.named_parameters():
        OUT[f"{case}.params.{name}"] = p.detach()
        OUT[f"{case}.grad.params.{name}"] = p.grad
    for name, t in inputs.items():
        OUT[f"{case}.{name}"] = t.detach()
        OUT[f"{case}.grad.{name}"] = t.grad
    OUT[f"{case}.out"], OUT[f"{case}.h"], OUT[f"{case}.c"] = out.detach(), h.detach(), c.detach()
    OUT[f"{case}.R"], OUT[f"{case}.R2"], OUT[f"{case}.R3"] = R, R2, R3
    print(case, [name for name, _ in module.named_parameters()])


def lstm_case():
    lstm = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
    x, h0, c0 = leaf(3, 5, 4), leaf(2, 3, 6), leaf(2, 3, 6)
    out, (h, c) = lstm(x, (h0, c0))
    store("lstm", lstm, {"x": x, "h0": h0, "c0": c0}, out, h, c)


def lstm0_case():
    lstm = torch.nn.LSTM(3, 4)
    x = leaf(7, 2, 3)
    out, (h, c) = lstm(x)
    store("lstm0", lstm, {"x": x}, out, h, c)


def cell_case():
    cell = torch.nn.LSTMCell(4, 5)
    x, h0, c0 = leaf(3, 4), leaf(3, 5), leaf(3, 5)
    h, c = cell(x, (h0, c0))
    store("cell", cell, {"x": x, "h0": h0, "c0": c0}, h, h, c)


def cell0_case():
    cell = torch.nn.LSTMCell(4, 5)
    x = leaf(3, 4)
    h, c = cell(x)
    store("cell0", cell, {"x": x}, h, h, c)


def bilstm_case():
    lstm = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True, dropout=0.3)
    lstm.eval()
    x, h0, c0 = leaf(3, 6, 4), leaf(4, 3, 5), leaf(4, 3, 5)
    out, (h, c) = lstm(x, (h0, c0))
    store("bilstm", lstm, {"x": x, "h0": h0, "c0": c0}, out, h, c)


def packed_case():
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x, h0, c0 = leaf(5, 4, 3), leaf(4, 4, 4), leaf(4, 4, 4)
    lengths = torch.tensor([5, 2, 4, 2])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h, c) = lstm(packed, (h0, c0))
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=5)
    OUT["packed.lengths"] = lengths
    store("packed", lstm, {"x": x, "h0": h0, "c0": c0}, out, h, c)


if __name__ == "__main__":
    lstm_case()
    lstm0_case()
    cell_case()
    cell0_case()
    bilstm_case()
    packed_case()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "lstm.safetensors")
    safetensors_io.save(OUT, path)
    print("wrote", path, os.path.getsize(path), "bytes")
