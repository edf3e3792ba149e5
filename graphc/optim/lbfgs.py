"""L-BFGS, PyTorch's ``torch.optim.LBFGS``: the same algorithm, defaults, closure protocol
and state, so runs from the same start take the same steps.

``step(closure)`` re-evaluates the model many times per call (up to ``max_eval``) and
decides what to do from the values it gets (convergence tests, the line search's
brackets): data-dependent Python control flow. It therefore runs eagerly only; the
closure itself may call a compiled function. All parameters are handled as one flat vector
(PyTorch's one parameter group restriction).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import enable_grad, no_grad
from ..composite import cat, mul
from ..creation import zeros
from ..tensor import Tensor
from .optimizer import Optimizer

Number = float | Tensor  # step sizes and slopes: PyTorch keeps some of them as 0-d tensors


def _dot(x: Tensor, y: Tensor) -> Tensor:
    """``x.dot(y)`` as two ops (mul, sum): the two-loop recursion runs two per stored pair,
    and the composite ``dot`` (a matmul between reshapes) costs several times more eagerly."""
    return (x * y).sum()


# ---------------------------------------------------------------- line search

def _cubic_interpolate(x1: Number, f1: Number, g1: Number, x2: Number, f2: Number,
                       g2: Number, bounds: tuple[Number, Number] | None = None) -> Number:
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, kept
    within ``bounds`` (default: between x1 and x2); their middle if the cubic has none."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


class _Bracket:
    """Two trial steps (or one, when the first phase already satisfied the conditions) with
    their loss, flat gradient and slope along the direction."""

    def __init__(self, steps: list, losses: list, grads: list, slopes: list | None) -> None:
        self.t, self.f, self.g, self.gtd = steps, losses, grads, slopes

    def low_high(self) -> tuple[int, int]:
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)

    def set(self, i: int, t: Number, f: Number, g: Tensor, gtd: Number) -> None:
        self.t[i], self.f[i], self.g[i], self.gtd[i] = t, f, g, gtd


def _strong_wolfe(obj_func: Callable, x: list[Tensor], t: Number, d: Tensor, f: float,
                  g: Tensor, gtd: Number, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple:
    """A step size along ``d`` meeting the strong Wolfe conditions (sufficient decrease
    ``c1``, curvature ``c2``): bracket one by growing the step, then zoom in by cubic
    interpolation. Returns (loss, flat gradient, step, evaluations)."""
    d_norm = d.abs().max()
    g = g.clone()
    f_new, g_new = obj_func(x, t, d)
    evals, ls_iter = 1, 0
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    bracket = None
    while ls_iter < max_ls:
        too_far = f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev)
        if not too_far and abs(gtd_new) <= -c2 * gtd:  # both conditions hold: done
            return f_new, g_new, t, evals
        if too_far or gtd_new >= 0:  # (or the slope turned): a minimum lies in [t_prev, t]
            bracket = _Bracket([t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()],
                               [gtd_prev, gtd_new])
            break
        step_min, step_max = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                          bounds=(step_min, step_max))
        f_prev, g_prev, gtd_prev = f_new, g_new.clone(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if bracket is None:  # out of evaluations while growing: the best of the start and t
        bracket = _Bracket([0, t], [f, f_new], [g, g_new], None)
    return _zoom(obj_func, x, d, f, gtd, bracket, d_norm, c1, c2, tolerance_change,
                 ls_iter, max_ls, evals)


def _zoom(obj_func: Callable, x: list[Tensor], d: Tensor, f: float, gtd: Number,
          bracket: _Bracket, d_norm: Tensor, c1: float, c2: float, tolerance_change: float,
          ls_iter: int, max_ls: int, evals: int) -> tuple:
    """Shrink ``bracket`` around a step meeting the strong Wolfe conditions."""
    insufficient_progress = False
    low, high = bracket.low_high()
    done = False
    while not done and ls_iter < max_ls:  # (a bracket without slopes has ls_iter == max_ls)
        if abs(bracket.t[1] - bracket.t[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket.t[0], bracket.f[0], bracket.gtd[0],
                               bracket.t[1], bracket.f[1], bracket.gtd[1])
        t, insufficient_progress = _away_from_ends(t, bracket.t, insufficient_progress)
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket.f[low]:
            bracket.set(high, t, f_new, g_new.clone(), gtd_new)
            low, high = bracket.low_high()
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (bracket.t[high] - bracket.t[low]) >= 0:
            bracket.set(high, bracket.t[low], bracket.f[low], bracket.g[low],
                        bracket.gtd[low])
        bracket.set(low, t, f_new, g_new.clone(), gtd_new)
    return bracket.f[low], bracket.g[low], bracket.t[low], evals


def _away_from_ends(t: Number, ends: list, insufficient_progress: bool) -> tuple[Number, bool]:
    """A trial step too close to an end of the bracket moves to 10% inside it (the second
    time in a row, or when it lies outside)."""
    top, bottom = max(ends), min(ends)
    eps = 0.1 * (top - bottom)
    if not min(top - t, t - bottom) < eps:
        return t, False
    if not (insufficient_progress or t >= top or t <= bottom):
        return t, True
    return (top - eps if abs(t - top) < abs(t - bottom) else bottom + eps), False


# ---------------------------------------------------------------- the optimizer

class LBFGS(Optimizer):
    """Limited-memory BFGS with an optional strong-Wolfe line search
    (``line_search_fn="strong_wolfe"``); ``step(closure)``, where the closure clears the
    gradients, computes the loss, calls ``backward()`` and returns the loss.

    Eager only: a step's control flow depends on the loss values, so ``@graphc.compile``
    cannot trace ``step()`` (converting the traced loss to a number raises); compile the
    model or the loss inside the closure instead.
    """

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size,
                                  "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]
        self._numel_cache: int | None = None

    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self) -> Tensor:
        return cat([zeros(p.numel(), dtype=p.dtype, device=p.device) if p.grad is None
                    else p.grad.reshape(-1) for p in self._params], 0)

    def _add_grad(self, step_size: Number, update: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(update[offset:offset + n].view_as(p), alpha=step_size)
            offset += n
        assert offset == self._numel(), f"Expected offset {offset} to equal {self._numel()}"

    def _directional_evaluate(self, closure: Callable, x: list[Tensor], t: Number,
                              d: Tensor) -> tuple[float, Tensor]:
        """Loss and flat gradient at ``x + t * d``; the parameters are restored to ``x``."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x, strict=True):
            p.copy_(saved)
        return loss, flat_grad

    @no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` iterations; returns the closure's first loss."""
        assert len(self.param_groups) == 1, "LBFGS takes exactly one param group"
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        closure = enable_grad()(closure)  # the step itself runs under no_grad

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")  # noqa: N806 (PyTorch's state key)
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:  # steepest descent, an empty history
                d = flat_grad.neg()
                old_dirs, old_stps, ro, H_diag = [], [], [], 1  # noqa: N806
            else:
                H_diag = self._remember(flat_grad - prev_flat_grad, d * t, old_dirs,  # noqa: N806
                                        old_stps, ro, H_diag, history_size)
                d = self._direction(flat_grad, old_dirs, old_stps, ro, H_diag, state,
                                    history_size)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(flat_grad, d)  # the slope along d
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p.clone() for p in self._params]
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda x, step, direction: self._directional_evaluate(closure, x, step,
                                                                          direction),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = flat_grad.abs().max() <= tolerance_grad
            else:
                self._add_grad(t, d)  # a fixed step
                opt_cond = False
                if n_iter != max_iter:  # (the last iteration's loss is not needed)
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = flat_grad.abs().max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if (n_iter == max_iter or current_evals >= max_eval or opt_cond
                    or (d * t).abs().max() <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _remember(y: Tensor, s: Tensor, old_dirs: list, old_stps: list, ro: list,
                  H_diag: Number, history_size: int) -> Number:  # noqa: N803
        """Add the curvature pair (y, s) to the history when it is positive enough; returns
        the diagonal of the initial inverse Hessian."""
        ys = _dot(y, s)
        if ys <= 1e-10:
            return H_diag
        if len(old_dirs) == history_size:  # forget the oldest pair
            old_dirs.pop(0)
            old_stps.pop(0)
            ro.pop(0)
        old_dirs.append(y)
        old_stps.append(s)
        ro.append(1.0 / ys)
        return ys / _dot(y, y)

    @staticmethod
    def _direction(flat_grad: Tensor, old_dirs: list, old_stps: list, ro: list,
                   H_diag: Number, state: dict, history_size: int) -> Tensor:  # noqa: N803
        """The quasi-Newton direction ``-H g`` by the two-loop recursion."""
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = flat_grad.neg()
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = _dot(old_stps[i], q) * ro[i]
            q.sub_(old_dirs[i] * al[i])
        r = mul(q, H_diag)
        for i in range(len(old_dirs)):
            be_i = _dot(old_dirs[i], r) * ro[i]
            r.add_(old_stps[i] * (al[i] - be_i))
        return r
