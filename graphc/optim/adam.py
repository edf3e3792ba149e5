"""Adam and AdamW (Adam with decoupled weight decay), with amsgrad and maximize."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..composite import maximum
from ..creation import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, concrete, decayed, tracing


def _check(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        betas = tuple(float(b) for b in betas)
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
            "capturable": capturable, "differentiable": differentiable, "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure_loss(closure)
        traced = tracing()
        with no_grad():
            for group in self._groups():
                lr, (beta1, beta2), eps, weight_decay = group.values_of(
                    "lr", "betas", "eps", "weight_decay")
                amsgrad, maximize = group.flag("amsgrad"), group.flag("maximize")
                decay = group.flag("weight_decay")
                decoupled = decay and group.flag("decoupled_weight_decay")
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    state = self._state(p, amsgrad)
                    if maximize:
                        g = -g
                    step_t = state["step"].add_(1)
                    # eager: bias corrections in Python floats, as PyTorch; traced: in-graph
                    step = step_t.double() if traced else step_t.item()
                    if decoupled:
                        p.mul_(1 - lr * weight_decay)
                    elif decay:
                        g = decayed(g, p, weight_decay)
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    exp_avg.lerp_(g, 1 - beta1)
                    exp_avg_sq.mul_(beta2).add_(g * (1 - beta2) * g)
                    step_size = lr / (1 - beta1 ** step)
                    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
                    second = exp_avg_sq
                    if amsgrad:
                        second = state["max_exp_avg_sq"]
                        second.copy_(maximum(second, exp_avg_sq))
                    denom = second.sqrt() / bias_correction2_sqrt + eps
                    p.add_(exp_avg * -step_size / denom)
        return loss

    def _state(self, p: Tensor, amsgrad: bool) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = concrete(lambda: tensor(0.0))
            state["exp_avg"] = concrete(lambda: zeros_like(p))
            state["exp_avg_sq"] = concrete(lambda: zeros_like(p))
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = concrete(lambda: zeros_like(p))
        return state


class AdamW(Adam):
    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
