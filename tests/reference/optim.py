"""Reference values for tests/test_optim.cpp, from PyTorch 1.13's torch.optim.

Run from the repository root with Debian's python (it has PyTorch 1.13):

    /usr/bin/python3 tests/reference/optim.py

1. Writes fixtures/optim.safetensors: a tiny model (Linear(4, 3), then tanh, then
   the sum of squares against a fixed target), its input and target, and for each
   optimizer configuration below the parameters after each of 5 steps
   ("<config>.step<k>.weight" / ".bias"), the loss before each step, and the
   optimizer's state after the last step under heed's state_dict names
   ("<config>.state.0.exp_avg", ...).
2. Prints the learning rates the schedulers give, as C++ initializer lists, for
   pasting into the scheduler tests.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = {
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01,
                                              dampening=0),
    "sgd_dampening": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
    "sgd_plain": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.01, amsgrad=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1),
}
STEPS = 5


def optimizer_fixtures():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x = torch.randn(5, 4)
    target = torch.randn(5, 3)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    out = {"x": x, "target": target, "init.weight": init["weight"], "init.bias": init["bias"]}

    for name, make in CONFIGS.items():
        model.load_state_dict(init)
        opt = make(model.parameters())
        losses = []
        for k in range(1, STEPS + 1):
            opt.zero_grad()
            loss = ((torch.tanh(model(x)) - target) ** 2).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            out[f"{name}.step{k}.weight"] = model.weight.detach().clone()
            out[f"{name}.step{k}.bias"] = model.bias.detach().clone()
        out[f"{name}.loss"] = torch.tensor(losses)
        # Parameter 0 is the weight, 1 the bias, as in heed's numbering.
        for index, p in enumerate(model.parameters()):
            for key, value in opt.state[p].items():
                if value is None:  # SGD without momentum keeps no buffer
                    continue
                if key == "step":
                    value = torch.tensor(int(value.item()))  # heed keeps the count as int64
                out[f"{name}.state.{index}.{key}"] = value.detach().clone()
    path = os.path.join(HERE, "fixtures", "optim.safetensors")
    safetensors_io.save(out, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def lr_sequence(make_scheduler, lrs, steps):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])
    sched = make_scheduler(opt)
    seq = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
    return seq


def momentum_sequence(make_optimizer, make_scheduler, steps):
    """(lr, momentum, parameter) after construction and each step, momentum being SGD's or
    Adam's beta1; the float64 parameter starts at 0 and steps with gradient 1 + step / 10."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = make_optimizer([p])
    sched = make_scheduler(opt)

    def momentum():
        g = opt.param_groups[0]
        return g["betas"][0] if "betas" in g else g["momentum"]
    seq = [(sched.get_last_lr()[0], momentum(), 0.0)]
    for step in range(steps):
        p.grad = torch.full((1,), 1 + step / 10, dtype=torch.float64)
        opt.step()
        sched.step()
        seq.append((sched.get_last_lr()[0], momentum(), p.item()))
    return seq


def print_schedules():
    S = torch.optim.lr_scheduler
    cases = {
        "StepLR(step_size=3, gamma=0.5), lr 0.1 and 0.01":
            lr_sequence(lambda o: S.StepLR(o, step_size=3, gamma=0.5), [0.1, 0.01], 10),
        "CosineAnnealingLR(T_max=5, eta_min=0.001), lr 0.1":
            lr_sequence(lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.001), [0.1], 12),
        "LinearLR(start_factor=0.001, end_factor=1.0, total_iters=4), lr 0.1":
            lr_sequence(lambda o: S.LinearLR(o, start_factor=0.001, end_factor=1.0, total_iters=4), [0.1], 7),
        "LambdaLR(lambda e: 0.9 ** e + 0.01 * e), lr 0.1":
            lr_sequence(lambda o: S.LambdaLR(o, lambda e: 0.9 ** e + 0.01 * e), [0.1], 6),
        "SequentialLR([LinearLR(0.1, 1.0, 3), CosineAnnealingLR(T_max=5)], milestones=[3]), lr 0.1 and 0.05":
            lr_sequence(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3),
                                                     S.CosineAnnealingLR(o, T_max=5)], milestones=[3]),
                        [0.1, 0.05], 10),
        "OneCycleLR(max_lr=0.1, total_steps=10, cycle_momentum=False)":
            lr_sequence(lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, cycle_momentum=False), [0.1], 10),
        "OneCycleLR(max_lr=0.1, total_steps=12, pct_start=0.25, anneal_strategy='linear', cycle_momentum=False)":
            lr_sequence(lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=12, pct_start=0.25, anneal_strategy="linear",
                                               cycle_momentum=False), [0.1], 12),
    }
    for name, seq in cases.items():
        print(f"// {name}")
        for g in range(len(seq[0])):
            print("{" + ", ".join(repr(s[g]) for s in seq) + "}")

    # OneCycleLR cycling momentum (its default): an SGD built without momentum, and Adam's beta1.
    S_ = torch.optim.lr_scheduler
    momentum_cases = {
        "OneCycleLR(max_lr=0.1, total_steps=10) on SGD(lr=0.1): lr, momentum, parameter":
            momentum_sequence(lambda ps: torch.optim.SGD(ps, lr=0.1),
                              lambda o: S_.OneCycleLR(o, max_lr=0.1, total_steps=10), 10),
        "OneCycleLR(max_lr=0.01, total_steps=12, pct_start=0.25, anneal_strategy='linear', base_momentum=0.8, "
        "max_momentum=0.9) on Adam(lr=0.01): lr, beta1, parameter":
            momentum_sequence(lambda ps: torch.optim.Adam(ps, lr=0.01),
                              lambda o: S_.OneCycleLR(o, max_lr=0.01, total_steps=12, pct_start=0.25,
                                                      anneal_strategy="linear", base_momentum=0.8,
                                                      max_momentum=0.9), 12),
    }
    for name, seq in momentum_cases.items():
        print(f"// {name}")
        for k in range(3):
            print("{" + ", ".join(repr(s[k]) for s in seq) + "}")

    # ReduceLROnPlateau reacts to metrics: the lr after each step(metric).
    metrics = [1.0, 0.9, 0.95, 0.91, 0.9, 0.899, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6]
    for kwargs in [dict(factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.01),
                   dict(mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs")]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        sched = S.ReduceLROnPlateau(opt, **kwargs)
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        print(f"// ReduceLROnPlateau({kwargs}), metrics {metrics}")
        print("{" + ", ".join(repr(x) for x in lrs) + "}")


if __name__ == "__main__":
    optimizer_fixtures()
    print_schedules()
