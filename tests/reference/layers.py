"""Reference values for tests/test_nn_layers.cpp and tests/test_nn_loss.cpp.

Run from the repository root with Debian's Python (it has PyTorch 1.13):
    /usr/bin/python3 tests/reference/layers.py
It writes tests/reference/fixtures/layers.safetensors. Names are "<case>.<what>":
inputs, weights (under their PyTorch state_dict names), the output, the upstream
gradient fed to backward ("dy"), and the gradients of inputs and parameters
("grad.<name>"). Everything is float32 except class ids / targets (int64).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
out = {}


def put(case, **tensors):
    for k, v in tensors.items():
        out[f"{case}.{k}"] = v.detach().clone()


def layer_case(case, module, x, extra_inputs=()):
    """Forward x through module, backward a random dy; store everything."""
    x = x.clone().requires_grad_(x.is_floating_point())
    y = module(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(case, x=x, y=y, dy=dy)
    if x.is_floating_point():
        put(case, **{"grad.x": x.grad})
    for name, p in module.named_parameters():
        put(case, **{name: p, f"grad.{name}": p.grad})


# ---- layers --------------------------------------------------------------------
layer_case("linear", nn.Linear(5, 3), torch.randn(2, 4, 5))

emb = nn.Embedding(10, 4, padding_idx=0)
ids = torch.tensor([[1, 0, 3, 3, 9], [0, 7, 3, 1, 2]])  # repeated ids and the padding id
layer_case("embedding", emb, ids)
out["embedding.ids"] = out.pop("embedding.x")

ln = nn.LayerNorm(6)
with torch.no_grad():  # not the default ones/zeros, so the affine part is exercised
    ln.weight.copy_(torch.randn(6))
    ln.bias.copy_(torch.randn(6))
layer_case("layer_norm", ln, torch.randn(3, 4, 6) * 3 + 1)

ln2 = nn.LayerNorm([4, 5])
with torch.no_grad():
    ln2.weight.copy_(torch.randn(4, 5))
    ln2.bias.copy_(torch.randn(4, 5))
layer_case("layer_norm2", ln2, torch.randn(2, 3, 4, 5))

# ---- losses ----------------------------------------------------------------------
def loss_case(case, fn, x, target, diff_target=False):
    """fn(x, target) for each reduction; gradients for a random upstream dy."""
    for reduction in ("mean", "sum", "none"):
        xi = x.clone().requires_grad_()
        ti = target.clone().requires_grad_(diff_target)
        y = fn(xi, ti, reduction)
        dy = torch.randn_like(y) if reduction == "none" else torch.tensor(1.7)
        y.backward(dy)
        c = f"{case}.{reduction}"
        put(c, y=y, dy=dy, **{"grad.x": xi.grad})
        if diff_target:
            put(c, **{"grad.target": ti.grad})
    put(case, x=x, target=target)


ce_target = torch.tensor([1, 4, -100, 0, 2, -100])
loss_case("cross_entropy", lambda x, t, r: F.cross_entropy(x, t, reduction=r), torch.randn(6, 5), ce_target)
# [N, C, d]: a class per position, with a custom ignore_index that is also a valid class.
loss_case("cross_entropy_3d", lambda x, t, r: F.cross_entropy(x, t, ignore_index=1, reduction=r),
          torch.randn(2, 5, 3), torch.tensor([[0, 1, 4], [1, 3, 2]]))
# Logits in the thousands: softmax then log would overflow; log_softmax does not.
loss_case("cross_entropy_large", lambda x, t, r: F.cross_entropy(x, t, reduction=r),
          torch.randn(4, 3) * 1000, torch.tensor([0, 2, 1, 1]))
loss_case("nll_loss", lambda x, t, r: F.nll_loss(x, t, reduction=r),
          torch.log_softmax(torch.randn(5, 4), 1), torch.tensor([3, 0, -100, 1, 1]))
loss_case("mse_loss", lambda x, t, r: F.mse_loss(x, t, reduction=r), torch.randn(3, 4), torch.randn(3, 4),
          diff_target=True)
bce_x = torch.tensor([[100.0, -100.0, 0.0, 2.5], [-100.0, 100.0, -3.0, 0.5], [30.0, -30.0, 1.0, -0.2]])
bce_t = torch.tensor([[1.0, 0.0, 1.0, 0.3], [1.0, 0.0, 0.0, 0.9], [0.0, 1.0, 0.5, 0.0]])
loss_case("bce", lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r), bce_x, bce_t,
          diff_target=True)
pos_weight = torch.tensor([0.5, 2.0, 3.0, 1.0])
loss_case("bce_pos", lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r, pos_weight=pos_weight),
          bce_x, bce_t, diff_target=True)
out["bce_pos.pos_weight"] = pos_weight

# ---- gradient clipping -------------------------------------------------------------
grads = [torch.randn(3, 4), torch.randn(5), torch.randn(2, 2, 2)]
for case, max_norm, norm_type in [("clip2", 1.0, 2.0), ("clip_inf", 0.5, float("inf")),
                                  ("clip3", 0.8, 3.0), ("clip_none", 100.0, 2.0)]:
    ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    put(case, total=total, **{f"grad{i}": p.grad for i, p in enumerate(ps)})
for i, g in enumerate(grads):
    out[f"clip.grad{i}"] = g
ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
for p, g in zip(ps, grads):
    p.grad = g.clone()
torch.nn.utils.clip_grad_value_(ps, 0.7)
put("clip_value", **{f"grad{i}": p.grad for i, p in enumerate(ps)})

path = os.path.join(os.path.dirname(__file__), "fixtures", "layers.safetensors")
safetensors_io.save(out, path)
print(f"wrote {len(out)} tensors to {path} ({os.path.getsize(path)} bytes)")
