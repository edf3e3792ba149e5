"""graphc.optim against PyTorch: optimizers step for step, schedulers epoch for epoch, state
dicts; and optimizer.step() inside @graphc.compile against eager."""
import copy
import warnings

import numpy as np
import pytest

import graphc
from graphc import optim

try:
    import torch
except ImportError:  # the oracle is optional: pip install graphc[oracle]
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference) is not "
                                                       "installed")

STEPS = 20
SHAPES = [(4, 5), (5,), ()]
_rng = np.random.default_rng(0)
WEIGHTS = [_rng.standard_normal(s) for s in SHAPES]
TARGET = _rng.standard_normal((4, 5))
T = graphc.tensor(TARGET)

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05,
             "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True, "eps": 1e-3}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5,
                 "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.2, "eps": 1e-6}),
]
# a compiled run per optimizer and branch of its update rule (a compile costs ~0.5 s)
COMPILED = [CONFIGS[i] for i in (2, 3, 5, 8, 10, 13)]


def _loss(params, target):
    """Non-convex, couples the parameters (one of them 0-d) through broadcasting, and
    compiles fast (elementwise and reductions only)."""
    w, b, s = params
    return ((target - w) ** 2).mean() + 2 * ((b - s * w * w) ** 2).mean() + 0.1 * s ** 2


def _graphc_params(dtype=graphc.float64):
    return [graphc.tensor(w, dtype=dtype, requires_grad=True) for w in WEIGHTS]


def _graphc_step(params, opt):
    def step(target):
        loss = _loss(params, target)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return step


def _numpy(params):
    return [p.detach().numpy().copy() for p in params]


def _assert_close(got, want, rtol=1e-10, atol=1e-12):
    """Close elementwise, with ``atol`` relative to each array's largest magnitude (values near
    zero come from cancellation)."""
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, np.abs(b).max()),
                                   err_msg=f"parameter {i}")


def _torch_run(name, kwargs, steps=STEPS):
    params = [torch.tensor(w, requires_grad=True) for w in WEIGHTS]
    opt = getattr(torch.optim, name)(params, **kwargs)
    target = torch.tensor(TARGET)
    for _ in range(steps):
        opt.zero_grad()
        _loss(params, target).backward()
        opt.step()
    return [p.detach().numpy() for p in params], opt


def _ids(configs):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in configs]


# ---------------------------------------------------------------- eager, against PyTorch

@needs_torch
@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=_ids(CONFIGS))
def test_eager_steps_match_torch(name, kwargs):
    params = _graphc_params()
    opt = getattr(optim, name)(params, **kwargs)
    step = _graphc_step(params, opt)
    for _ in range(STEPS):
        step(T)
    want, topt = _torch_run(name, kwargs)
    _assert_close(_numpy(params), want)
    # the same state, under the same names
    for p, tp in zip(params, topt.param_groups[0]["params"]):
        tstate = topt.state[tp]
        assert set(opt.state[p]) == set(tstate)
        for key, v in tstate.items():
            _assert_close([opt.state[p][key].numpy()], [v.numpy()], rtol=1e-9)


@needs_torch
def test_closure_and_two_param_groups_match_torch():
    def run(lib, opt_cls):
        params = [lib.tensor(w, requires_grad=True) for w in WEIGHTS]
        opt = opt_cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}], lr=0.01,
                      momentum=0.9)
        target = lib.tensor(TARGET)

        def closure():
            opt.zero_grad()
            loss = _loss(params, target)
            loss.backward()
            return loss
        losses = [opt.step(closure).item() for _ in range(10)]
        return [p.detach().numpy() for p in params], losses
    got, got_losses = run(graphc, optim.SGD)
    want, want_losses = run(torch, torch.optim.SGD)
    _assert_close(got, want)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-12)


# ---------------------------------------------------------------- compiled, against eager

def _eager_and_compiled(name, kwargs, dtype=graphc.float64, steps=STEPS):
    results = []
    for compiled in (False, True):
        params = _graphc_params(dtype)
        opt = getattr(optim, name)(params, **kwargs)
        step = _graphc_step(params, opt)
        run = graphc.compile(step) if compiled else step
        losses = [run(T.to(dtype)).item() for _ in range(steps)]
        results.append((_numpy(params), losses, opt, params, run))
    return results


@pytest.mark.parametrize("name, kwargs", COMPILED, ids=_ids(COMPILED))
def test_compiled_step_matches_eager(name, kwargs):
    (want, want_losses, eopt, eparams, _), (got, losses, copt, cparams, run) = \
        _eager_and_compiled(name, kwargs)
    _assert_close(got, want)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)
    assert len(run.cache) == 1 and run.retraces == 0
    for pe, pc in zip(eparams, cparams):  # the compiled step wrote its state back
        assert pc.grad is None and pc.is_leaf and pc.requires_grad
        for key, v in eopt.state[pe].items():
            _assert_close([copt.state[pc][key].numpy()], [v.numpy()], rtol=1e-9)
    # hidden state (SGD's dampened-first-step flag) stays out of the state dict
    csd, esd = copt.state_dict(), eopt.state_dict()
    assert {k: set(v) for k, v in csd["state"].items()} == \
        {k: set(v) for k, v in esd["state"].items()}
    assert csd["param_groups"] == esd["param_groups"]


def test_compiled_adam_float32_matches_eager():
    (want, want_losses, *_), (got, losses, *_) = _eager_and_compiled(
        "Adam", {"lr": 0.01, "weight_decay": 0.1}, dtype=graphc.float32, steps=10)
    _assert_close(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-4)


def test_eager_steps_then_compiled_steps_continue_like_eager():
    """State made by eager steps (SGD's momentum buffer cloned from the gradient) is captured
    by the compiled step; the dampened first-step rule is not replayed."""
    kwargs = {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}
    runs = []
    for compiled in (False, True):
        params = _graphc_params()
        opt = optim.SGD(params, **kwargs)
        step = _graphc_step(params, opt)
        for _ in range(3):
            step(T)
        run = graphc.compile(step) if compiled else step
        for _ in range(5):
            run(T)
        for _ in range(2):  # and eager again after compiled calls
            step(T)
        runs.append(_numpy(params))
    _assert_close(runs[1], runs[0])


def _scheduled_steps(compiled, make_opt, make_scheduler, steps):
    """``steps`` training steps (compiled or eager), each followed by ``scheduler.step()``;
    returns the parameters, the optimizer and the step function."""
    params = _graphc_params()
    opt = make_opt(params)
    sched = make_scheduler(opt)
    step = _graphc_step(params, opt)
    run = graphc.compile(step) if compiled else step
    for _ in range(steps):
        run(T)
        sched.step()
    return params, opt, run


def test_step_lr_changes_the_rate_of_a_compiled_step():
    """group['lr'] is mirrored into a tensor the compiled step reads at every call: a
    scheduler changes it without a retrace and without being baked into the trace."""
    runs = []
    for compiled in (False, True):
        params, opt, run = _scheduled_steps(
            compiled, lambda ps: optim.SGD(ps, lr=0.2, momentum=0.5),
            lambda opt: optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), steps=10)
        opt.param_groups[0]["lr"] = 0.3  # set directly, too
        run(T)
        runs.append(_numpy(params))
        if compiled:
            assert len(run.cache) == 1 and run.retraces == 0
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                opt.param_groups[0]["momentum"] = 0.9  # a number read at run time: fine
            with pytest.warns(UserWarning, match="momentum"):  # on/off is baked into the trace
                opt.param_groups[0]["momentum"] = 0.0
            with pytest.warns(UserWarning, match="add_param_group"):
                opt.add_param_group({"params": [graphc.zeros(2, requires_grad=True)]})
    _assert_close(runs[1], runs[0])
    lr_changed = [w0 - w1 for w0, w1 in zip(_numpy(_graphc_params()), runs[0])]
    assert all(np.abs(d).max() > 0 for d in lr_changed)


# ---------------------------------------------------------------- zero_grad

def test_zero_grad_set_to_none_or_zeros():
    params = _graphc_params()
    opt = optim.Adam(params)
    _loss(params, T).backward()
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g and not g.requires_grad
        np.testing.assert_array_equal(g.numpy(), np.zeros(p.shape))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_to_zeros_inside_a_compiled_step():
    """zero_() of a .grad the traced backward made: an in-place op on a tensor made during
    the trace (it has no memory to write back to; the .grad write-back zeroes the real one)."""
    runs = []
    for compiled in (False, True):
        params = _graphc_params()
        opt = optim.SGD(params, lr=0.1)

        def step(target, params=params, opt=opt):
            loss = _loss(params, target)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=False)
            return loss
        step(T)  # .grad exists before the compiled calls (None -> tensor would retrace)
        run = graphc.compile(step) if compiled else step
        for _ in range(4):
            run(T)
        runs.append(_numpy(params) + [p.grad.numpy() for p in params])
    assert run.retraces == 0
    _assert_close(runs[1], runs[0])


# ---------------------------------------------------------------- state dicts

def _clone_state_dict(sd):
    return {"state": {k: {n: v.clone() if isinstance(v, graphc.Tensor) else v
                          for n, v in s.items()} for k, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


def _trained(name: str, kwargs: dict, steps: int = 5):
    """Parameters, optimizer and step function after ``steps`` steps."""
    params = _graphc_params()
    opt = getattr(optim, name)(params, **kwargs)
    step = _graphc_step(params, opt)
    for _ in range(steps):
        step(T)
    return params, opt, step


@pytest.mark.parametrize("name, kwargs", [CONFIGS[2], CONFIGS[5], CONFIGS[10], CONFIGS[13]],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    params, opt, step = _trained(name, kwargs)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2]]
    params2 = [p.detach().clone().requires_grad_(True) for p in params]
    opt2 = getattr(optim, name)(params2, lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for s in opt2.state.values():  # copied, not shared with the source optimizer
        assert all(v is not w for v in s.values() for w in sd["state"][0].values())
    step2 = _graphc_step(params2, opt2)
    for _ in range(5):
        step(T)
        step2(T)
    _assert_close(_numpy(params2), _numpy(params), rtol=0, atol=0)


@needs_torch
@pytest.mark.parametrize("name, kwargs", [CONFIGS[2], CONFIGS[5], CONFIGS[10], CONFIGS[13]],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_state_dict_layout_equals_torch_and_loads_torch_state(name, kwargs):
    _, topt = _torch_run(name, kwargs, steps=5)
    tsd = topt.state_dict()
    params, opt, step = _trained(name, kwargs)
    sd = opt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert {k: sorted(v) for k, v in sd["state"].items()} == \
        {k: sorted(v) for k, v in tsd["state"].items()}
    for k, s in tsd["state"].items():
        for n, v in s.items():
            assert sd["state"][k][n].dtype.name == str(v.dtype).removeprefix("torch.")
    # a PyTorch checkpoint, converted tensor by tensor, continues as PyTorch does
    fresh = _graphc_params()
    for p, tp in zip(fresh, topt.param_groups[0]["params"]):
        with graphc.no_grad():
            p.copy_(graphc.tensor(tp.detach().numpy()))
    opt3 = getattr(optim, name)(fresh, **kwargs)
    opt3.load_state_dict({"state": {k: {n: graphc.tensor(v.numpy()) for n, v in s.items()}
                                    for k, s in tsd["state"].items()},
                          "param_groups": tsd["param_groups"]})
    step3 = _graphc_step(fresh, opt3)
    tparams = topt.param_groups[0]["params"]
    target = torch.tensor(TARGET)
    for _ in range(5):
        step3(T)
        topt.zero_grad()
        _loss(tparams, target).backward()
        topt.step()
    _assert_close(_numpy(fresh), [p.detach().numpy() for p in tparams])


def test_load_state_dict_into_a_compiled_step_rewinds_it():
    """load_state_dict copies into the existing state tensors, so a compiled step that
    captured them keeps working: rewinding params and state replays the same steps."""
    params = _graphc_params()
    opt = optim.Adam(params, lr=0.01, amsgrad=True)
    step = _graphc_step(params, opt)
    run = graphc.compile(step)
    for _ in range(3):
        run(T)
    saved_params, saved = _numpy(params), _clone_state_dict(opt.state_dict())
    first = [run(T).item() for _ in range(4)]
    after = _numpy(params)
    with graphc.no_grad():
        for p, v in zip(params, saved_params):
            p.copy_(graphc.tensor(v))
    opt.load_state_dict(saved)
    again = [run(T).item() for _ in range(4)]
    assert again == first
    _assert_close(_numpy(params), after, rtol=0, atol=0)
    assert len(run.cache) == 1


# ---------------------------------------------------------------- schedulers

def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5),
                                s.ConstantLR(opt, factor=0.5, total_iters=4),
                                s.CosineAnnealingWarmRestarts(opt, T_0=6, T_mult=2)],
                          milestones=[5, 12])


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.LinearLR(opt, start_factor=0.2, total_iters=8),
                               s.ExponentialLR(opt, gamma=0.97),
                               s.MultiStepLR(opt, milestones=[20, 40], gamma=0.5)])


def _nested(lib, opt):
    s = lib.optim.lr_scheduler
    inner = s.SequentialLR(opt, [s.ConstantLR(opt, factor=0.25, total_iters=3),
                                 s.PolynomialLR(opt, total_iters=20, power=2.0)],
                           milestones=[6])
    return s.SequentialLR(opt, [inner, s.StepLR(opt, step_size=7, gamma=0.7)], milestones=[30])


SCHEDULERS = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("LambdaLR", {"lr_lambda": lambda e: 1 / (1 + e) ** 0.5}),
    ("LambdaLR", {"lr_lambda": [lambda e: 0.95 ** e, lambda e: 1 + (e % 3)]}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.9 + 0.01 * (e % 5)}),
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.2, "total_iters": 9}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.05, "end_factor": 0.6, "total_iters": 25}),
    ("PolynomialLR", {"total_iters": 40, "power": 1.5}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 60}),
    ("OneCycleLR", {"max_lr": [0.8, 2.0], "epochs": 6, "steps_per_epoch": 10,
                    "anneal_strategy": "linear", "pct_start": 0.25, "base_momentum": 0.7}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 64, "three_phase": True,
                    "div_factor": 10.0, "final_div_factor": 100.0}),
    ("OneCycleLR-Adam", {"max_lr": 0.5, "total_steps": 61, "max_momentum": 0.9}),
    ("OneCycleLR-Adam", {"max_lr": 0.5, "total_steps": 61, "three_phase": True,
                         "anneal_strategy": "linear", "cycle_momentum": False}),
    ("SequentialLR", _sequential),
    ("ChainedScheduler", _chained),
    ("SequentialLR-nested", _nested),
]
SCHEDULER_IDS = [f"{n}{i}" for i, (n, _) in enumerate(SCHEDULERS)]


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def _lr_sequence(lib, name, kwargs, epochs=60):
    """The rates (get_last_lr()) and momenta (SGD's momentum, Adam's beta1) of each epoch."""
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}]
    if name.endswith("-Adam"):
        opt = lib.optim.Adam(groups, lr=0.1)
    else:
        opt = lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    if callable(kwargs):
        sched = kwargs(lib, opt)
    else:
        sched = getattr(lib.optim.lr_scheduler, name.split("-")[0])(opt, **kwargs)
    lrs = [sched.get_last_lr() + [_momentum(g) for g in opt.param_groups]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr() + [_momentum(g) for g in opt.param_groups])
    return lrs, sched, opt


@needs_torch
@pytest.mark.parametrize("name, kwargs", SCHEDULERS, ids=SCHEDULER_IDS)
def test_scheduler_sequence_matches_torch(name, kwargs):
    got, sched, opt = _lr_sequence(graphc, name, kwargs)
    want, _, _ = _lr_sequence(torch, name, kwargs)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-13, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == got[-1][:2]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS, ids=SCHEDULER_IDS)
def test_scheduler_state_dict_round_trip(name, kwargs):
    lrs, sched, opt = _lr_sequence(graphc, name, kwargs, epochs=10)
    sd, osd = sched.state_dict(), copy.deepcopy(opt.state_dict())
    assert "optimizer" not in sd
    assert sd.get("last_epoch", 10) == 10  # (ChainedScheduler has none, as in PyTorch)
    cont = []
    for _ in range(40):
        sched.step()
        cont.append(sched.get_last_lr())
    _, sched2, opt2 = _lr_sequence(graphc, name, kwargs, epochs=0)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    again = []
    for _ in range(40):
        sched2.step()
        again.append(sched2.get_last_lr())
    assert again == cont


CLOSED_FORMS = [("StepLR", {"step_size": 4, "gamma": 0.5}),
                ("ConstantLR", {"factor": 0.2, "total_iters": 9}),
                ("LinearLR", {"start_factor": 0.05, "end_factor": 0.6, "total_iters": 25}),
                ("PolynomialLR", {"total_iters": 40, "power": 1.5}),
                ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
                ("CosineAnnealingWarmRestarts", {"T_0": 5})]


@needs_torch
@pytest.mark.parametrize("name, kwargs", CLOSED_FORMS, ids=[n for n, _ in CLOSED_FORMS])
def test_scheduler_step_with_epoch_matches_torch(name, kwargs):
    """step(epoch): the closed forms, and warm restarts at fractional epochs."""
    epochs = [0.5, 3, 2.25, 17, 4.75, 30, 29.5, 1, 44.2, 60]
    runs = []
    for lib in (graphc, torch):
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.3)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in epochs if "Restarts" in name else [int(e) for e in epochs]:
                sched.step(e)
                runs.append((sched.get_last_lr(), sched.last_epoch))
    half = len(runs) // 2
    np.testing.assert_allclose([r[0] for r in runs[:half]], [r[0] for r in runs[half:]],
                               rtol=1e-13)
    assert [r[1] for r in runs[:half]] == [r[1] for r in runs[half:]]


@needs_torch
@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "threshold_mode": "abs",
                                         "threshold": 0.05, "cooldown": 2, "patience": 1,
                                         "factor": 0.5, "min_lr": [0.02, 0.1]}])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.5] + [0.5 + 0.01 * (i % 4)
                                                              for i in range(50)]
    runs = []
    for lib in (graphc, torch):
        params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
        opt = lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}],
                            lr=0.1)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        lrs = []
        for m in metrics:
            sched.step(lib.tensor(m) if lib is graphc else m)
            lrs.append(sched.get_last_lr() + [sched.num_bad_epochs, sched.cooldown_counter])
        runs.append(lrs)
        if lib is graphc:
            sd = sched.state_dict()
            again = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            again.load_state_dict(sd)
            assert again.best == sched.best and again.num_bad_epochs == sched.num_bad_epochs
    np.testing.assert_allclose(np.array(runs[0]), np.array(runs[1]), rtol=1e-13)
    assert runs[0][-1][:2] != runs[0][0][:2]  # it did reduce


def test_scheduler_argument_checks():
    opt = optim.SGD([graphc.zeros(2, requires_grad=True)], lr=0.1)
    s = optim.lr_scheduler
    with pytest.raises(ValueError, match="between 0 and 1"):
        s.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        s.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="positive integer T_0"):
        s.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="total_steps OR"):
        s.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        s.SequentialLR(opt, [s.ConstantLR(opt)], milestones=[3])
    other = optim.SGD([graphc.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="same optimizer"):
        s.ChainedScheduler([s.ConstantLR(opt), s.ConstantLR(other)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        s.SequentialLR(opt, [s.ConstantLR(opt), s.ReduceLROnPlateau(opt)], milestones=[2])
    with pytest.raises(ValueError, match="momentum or beta1"):
        s.OneCycleLR(optim.Adagrad([graphc.zeros(2, requires_grad=True)]), max_lr=1.0,
                     total_steps=5)
    one = s.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    one.step()
    one.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        one.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.StepLR(opt, step_size=2).get_lr()


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                              ("Adam", {"lr": 0.01})])
def test_one_cycle_reaches_a_compiled_step(opt_name, kwargs):
    """OneCycleLR writes lr and momentum/beta1 each step; a compiled step reads both from
    the param group's tensors: no retrace, the same parameters as eager."""
    runs = []
    for compiled in (False, True):
        params, _, run = _scheduled_steps(
            compiled, lambda ps: getattr(optim, opt_name)(ps, **kwargs),
            lambda opt: optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=12),
            steps=12)
        runs.append(_numpy(params))
        if compiled:
            assert len(run.cache) == 1 and run.retraces == 0
    _assert_close(runs[1], runs[0])


@pytest.mark.parametrize("dtype", [graphc.float32, graphc.float64])
@pytest.mark.parametrize("lr", [0.01, 3])
def test_eager_update_equals_the_tensor_ops(dtype, lr):
    # optimizer.sub_scaled_ skips the ops' nodes eagerly: the same bits as p.sub_(g * lr),
    # version bump and views included
    from graphc.optim.optimizer import sub_scaled_
    for shape in SHAPES:
        w = _rng.standard_normal(shape)
        g = graphc.tensor(_rng.standard_normal(shape), dtype=dtype)
        fast, slow = (graphc.tensor(w, dtype=dtype, requires_grad=True) for _ in range(2))
        view = fast.reshape(-1)
        with graphc.no_grad():
            sub_scaled_(fast, g, lr)
            slow.sub_(g * lr)
        np.testing.assert_array_equal(fast.detach().numpy(), slow.detach().numpy())
        assert fast._version == slow._version == 1 and fast.dtype is dtype
        assert fast.requires_grad and fast.is_leaf
        np.testing.assert_array_equal(view.detach().numpy(), slow.detach().numpy().ravel())


def test_optimizer_api_checks():
    p = graphc.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    q = graphc.zeros(3, requires_grad=True)
    opt.add_param_group({"params": q, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [q] and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    assert "Parameter Group 1" in repr(opt)
