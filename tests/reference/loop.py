"""The training loop of docs/snippets/12_loop.cpp, written in PyTorch 1.13 the way
a PyTorch user would, to compare the two in lines (docs 12, bench/RESULTS.md).
Run: /usr/bin/python3 tests/reference/loop.py (prints the two line counts too).
PyTorch's DataLoader has no state to save, so resuming mid-epoch re-draws the
epoch's shuffle from a seeded generator and skips the batches already done."""
import math
import os
import re

import torch
from torch import nn


# [loop]
class CharModel(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.head(self.lstm(self.emb(x))[0])


class CharWindows(torch.utils.data.Dataset):
    def __init__(self, text, block_size):
        self.chars = sorted(set(text))
        self.ids = torch.tensor([self.chars.index(c) for c in text])
        self.block_size = block_size

    def __len__(self):
        return (len(self.ids) - 1) // self.block_size

    def __getitem__(self, i):
        w = self.ids[i * self.block_size:(i + 1) * self.block_size + 1]
        return w[:-1], w[1:]


def train(text, epochs, checkpoint):
    data = CharWindows(text, 16)
    vocab = len(data.chars)
    model = CharModel(vocab, 64)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    steps_per_epoch = len(data) // 16
    steps = epochs * steps_per_epoch
    warmup = torch.optim.lr_scheduler.LinearLR(opt, 1e-3, total_iters=5)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps - 5)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warmup, cosine], [5])
    step = 0
    if os.path.exists(checkpoint):
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        step = state["step"]
    loss_value = 0
    while step < steps:
        epoch, done = divmod(step, steps_per_epoch)
        g = torch.Generator().manual_seed(epoch)
        loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, drop_last=True,
                                             num_workers=2, generator=g)
        for i, (x, y) in enumerate(loader):
            if i < done:
                continue
            loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_value = loss.item()
            step += 1
            print(f"\rtrain {step}/{steps} loss {loss_value:.4f} lr {opt.param_groups[0]['lr']:.2e}", end="")
    print()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "rng": torch.get_rng_state(), "step": step}, checkpoint)
    return loss_value
# [end loop]


def code_lines(path, start, end):
    """Lines between the markers that are neither blank nor only a comment."""
    text = open(path).read()
    part = text[text.index(start) + len(start):text.index(end)]
    return sum(1 for line in part.splitlines() if line.strip() and not re.match(r"\s*(#|//)", line))


if __name__ == "__main__":
    text = "attention is the heed a model pays to its past. " * 60
    path = "/tmp/heed_loop.pt"
    if os.path.exists(path):
        os.remove(path)
    first = train(text, 2, path)
    more = train(text, 4, path)
    print(f"losses: {first:.4f} after 2 epochs, {more:.4f} after 4 (uniform guess: {math.log(len(set(text))):.4f})")
    here = os.path.dirname(os.path.abspath(__file__))
    py = code_lines(__file__, "# [loop]", "# [end loop]")
    cpp = code_lines(os.path.join(here, "..", "..", "docs", "snippets", "12_loop.cpp"), "// [loop]", "// [end loop]")
    print(f"lines of code: PyTorch {py}, heed {cpp} ({cpp / py:.2f}x)")
