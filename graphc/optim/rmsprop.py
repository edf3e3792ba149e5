"""RMSprop, with momentum and the centered variant."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, concrete, decayed, sub_scaled_


class RMSprop(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, {
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self._groups():
                lr, alpha, eps, weight_decay, momentum = group.values_of(
                    "lr", "alpha", "eps", "weight_decay", "momentum")
                decay, maximize = group.flag("weight_decay"), group.flag("maximize")
                centered, use_momentum = group.flag("centered"), group.flag("momentum")
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    state = self._state(p, use_momentum, centered)
                    if maximize:
                        g = -g
                    state["step"].add_(1)
                    if decay:
                        g = decayed(g, p, weight_decay)
                    square_avg = state["square_avg"]
                    square_avg.mul_(alpha).add_(g * (1 - alpha) * g)
                    if centered:
                        grad_avg = state["grad_avg"]
                        grad_avg.lerp_(g, 1 - alpha)
                        avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
                    else:
                        avg = square_avg.sqrt() + eps
                    if use_momentum:
                        buf = state["momentum_buffer"]
                        buf.mul_(momentum).add_(g / avg)
                        sub_scaled_(p, buf, lr)
                    else:
                        p.add_(g * -lr / avg)
        return loss

    def _state(self, p: Tensor, use_momentum: bool, centered: bool) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = concrete(lambda: tensor(0.0))
            state["square_avg"] = concrete(lambda: zeros_like(p))
        if use_momentum and "momentum_buffer" not in state:
            state["momentum_buffer"] = concrete(lambda: zeros_like(p))
        if centered and "grad_avg" not in state:
            state["grad_avg"] = concrete(lambda: zeros_like(p))
        return state
