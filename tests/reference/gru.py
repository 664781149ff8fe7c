"""Reference values for the GRU tests (tests/test_nn_gru.cpp), computed with PyTorch 1.13.

Run from the repository root with Debian's python (the one that has torch):
    /usr/bin/python3 tests/reference/gru.py
It writes tests/reference/fixtures/gru.safetensors (float32). Each case stores,
under "<case>.": params.<name>; the inputs x (and h0 where given); out and h;
R and R2, the weights of the loss (out*R).sum() + (h*R2).sum(); and the
gradients grad.<input> and grad.params.<name> of that loss. For GRUCell, out
is h' and the loss is (h'*R).sum().

Cases:
  cell     GRUCell(4, 5), x [3, 4], h0 [3, 5]
  cell0    GRUCell(4, 5), x [3, 4], no state (zeros)
  gru      GRU(4, 6, num_layers=2, batch_first=True), x [B=3, T=5, 4], h0 [2, 3, 6]
  bigru    GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.2) in eval mode,
           time-major x [T=5, B=2, 3], no h0
  packed   GRU(3, 4, bidirectional=True), x [T=5, B=3, 3] padded, lengths [2, 5, 3]
           (stored as packed.lengths), h0 [2, 3, 4]: pack_padded_sequence(...,
           enforce_sorted=False), the GRU, pad_packed_sequence(total_length=5)
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


def store(case, module, inputs, out, h):
    R, R2 = torch.randn(out.shape), torch.randn(h.shape)
    loss = (out * R).sum() + ((h * R2).sum() if h is not out else 0)
    loss.backward()
    for name, p in module.named_parameters():
        OUT[f"{case}.params.{name}"] = p.detach()
        OUT[f"{case}.grad.params.{name}"] = p.grad
    for name, t in inputs.items():
        OUT[f"{case}.{name}"] = t.detach()
        OUT[f"{case}.grad.{name}"] = t.grad
    OUT[f"{case}.out"], OUT[f"{case}.h"] = out.detach(), h.detach()
    OUT[f"{case}.R"], OUT[f"{case}.R2"] = R, R2
    print(case, [name for name, _ in module.named_parameters()])


def main():
    cell = torch.nn.GRUCell(4, 5)
    x, h0 = leaf(3, 4), leaf(3, 5)
    h = cell(x, h0)
    store("cell", cell, {"x": x, "h0": h0}, h, h)

    cell = torch.nn.GRUCell(4, 5)
    x = leaf(3, 4)
    h = cell(x)
    store("cell0", cell, {"x": x}, h, h)

    gru = torch.nn.GRU(4, 6, num_layers=2, batch_first=True)
    x, h0 = leaf(3, 5, 4), leaf(2, 3, 6)
    out, h = gru(x, h0)
    store("gru", gru, {"x": x, "h0": h0}, out, h)

    gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.2)
    gru.eval()
    x = leaf(5, 2, 3)
    out, h = gru(x)
    store("bigru", gru, {"x": x}, out, h)

    gru = torch.nn.GRU(3, 4, bidirectional=True)
    x, h0 = leaf(5, 3, 3), leaf(2, 3, 4)
    lengths = torch.tensor([2, 5, 3])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, h = gru(packed, h0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=5)
    OUT["packed.lengths"] = lengths
    store("packed", gru, {"x": x, "h0": h0}, out, h)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "gru.safetensors")
    safetensors_io.save(OUT, path)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
