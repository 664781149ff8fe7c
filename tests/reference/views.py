"""Which views PyTorch 1.13 allows, and with which strides: the table in
tests/test_view.cpp ("view: PyTorch's rule ...").

Run from the repository root with Debian's python (it has PyTorch 1.13):

    /usr/bin/python3 tests/reference/views.py

Each case starts from arange over a base shape, applies a chain of view ops
(written in a small language that the C++ test reads too), then asks for
.view(new shape). It prints one C++ initializer per case: the base shape, the
chain, the new shape, and the strides PyTorch gives the view, or "error" when
PyTorch refuses it.
"""
import torch

CASES = [
    # the split of a fused q, k, v projection along C, then heads: [B, T, 3C] -> [B, T, C] -> [B, T, NH, hs]
    ("2 3 12", "slice 2 0 4 1", "2 3 2 2"),
    ("2 3 12", "slice 2 4 8 1", "6 4"),
    ("2 3 12", "slice 2 4 8 1", "24"),
    ("2 3 12", "slice 2 4 8 1", "2 12"),
    # a transpose: its two dims can be split, never merged
    ("2 3 4", "transpose 1 2", "2 4 3"),
    ("2 3 4", "transpose 1 2", "2 12"),
    ("2 3 4", "transpose 1 2", "8 3"),
    ("2 3 4", "transpose 1 2", "2 2 2 3"),
    ("2 3 4", "transpose 0 1", "3 8"),
    ("2 3 4", "transpose 0 1", "3 2 2 2"),
    ("2 3 4", "transpose 0 2", "24"),
    # a permutation that keeps two dims adjacent in memory
    ("2 3 4", "permute 2 0 1", "4 6"),
    ("2 3 4", "permute 2 0 1", "4 2 3"),
    ("2 3 4", "permute 1 2 0", "12 2"),
    ("2 3 4", "permute 1 2 0", "3 2 2 2"),
    # stride-0 dims from expand
    ("1 4", "expand 3 4", "3 2 2"),
    ("1 4", "expand 3 4", "12"),
    ("4 1", "expand 4 5", "2 2 5"),
    ("4 1", "expand 4 5", "20"),
    # sizes of 1 fit anywhere, whatever their stride
    ("1 3 1 4", "transpose 0 2", "3 4"),
    ("1 3 1 4", "transpose 0 2", "1 1 12 1"),
    ("3 4", "transpose 0 1|unsqueeze 1", "4 3"),
    ("3 4", "transpose 0 1|unsqueeze 1", "2 1 2 3"),
    # stepped slices
    ("10", "slice 0 0 10 2", "5 1"),
    ("10", "slice 0 1 10 3", "1 3"),
    ("4 6", "slice 1 0 6 2", "12"),
    ("4 6", "slice 1 0 6 2", "2 2 3"),
    ("4 6", "slice 0 0 4 2", "6 2"),
    ("4 6", "slice 0 0 4 2|slice 1 1 5 1", "8"),
    ("4 6", "slice 0 0 4 2|slice 1 1 5 1", "2 2 2"),
    # selects, down to a scalar
    ("3 4", "select 1 2", "3 1"),
    ("3 4", "select 0 1|select 0 3", "1 1"),
    # empty tensors can be viewed as any shape with their element count
    ("0 3", "transpose 0 1", "3 0"),
    ("2 0 3", "transpose 0 2", "0 6"),
]


def build(base, chain):
    x = torch.arange(1, 1 + torch.Size([int(d) for d in base.split()]).numel()).reshape(
        [int(d) for d in base.split()])
    for op in chain.split("|"):
        name, *args = op.split()
        a = [int(v) for v in args]
        if name == "slice":
            x = x.narrow(a[0], a[1], a[2] - a[1])[(slice(None),) * a[0] + (slice(None, None, a[3]),)]
        elif name == "transpose":
            x = x.transpose(a[0], a[1])
        elif name == "permute":
            x = x.permute(a)
        elif name == "expand":
            x = x.expand(a)
        elif name == "unsqueeze":
            x = x.unsqueeze(a[0])
        elif name == "select":
            x = x.select(a[0], a[1])
        else:
            raise ValueError(name)
    return x


for base, chain, new in CASES:
    x = build(base, chain)
    try:
        y = x.view([int(d) for d in new.split()])
        assert torch.equal(y, x.reshape(y.shape))
        strides = " ".join(str(s) for s in y.stride())
    except RuntimeError:
        strides = "error"
    print(f'    {{"{base}", "{chain}", "{new}", "{strides}"}},')
