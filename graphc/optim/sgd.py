"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..composite import where
from ..creation import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, concrete, decayed, sub_scaled_, tracing

# Under tracing a momentum buffer is a zero tensor from the start (state must be concrete),
# while PyTorch's first step sets it to the gradient. With dampening 0 the usual update gives
# exactly that; with dampening, this 0-d flag selects the first-step rule at run time.
_STARTED = "_momentum_started"


class SGD(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize, "foreach": foreach,
                                  "differentiable": differentiable, "fused": fused})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self._groups():
                lr, momentum, dampening, weight_decay = group.values_of(
                    "lr", "momentum", "dampening", "weight_decay")
                decay, maximize = group.flag("weight_decay"), group.flag("maximize")
                use_momentum = group.flag("momentum")
                nesterov = use_momentum and group.flag("nesterov")
                damped = use_momentum and group.flag("dampening")
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if maximize:
                        g = -g
                    if decay:
                        g = decayed(g, p, weight_decay)
                    if use_momentum:
                        buf = self._momentum(p, g, momentum, dampening, damped)
                        g = g + buf * momentum if nesterov else buf
                    sub_scaled_(p, g, lr)
        return loss

    def _momentum(self, p: Tensor, g: Tensor, momentum: Any, dampening: Any,
                  damped: bool) -> Tensor:
        """The updated momentum buffer of ``p``."""
        state = self.state[p]
        buf = state.get("momentum_buffer")
        started = state.get(_STARTED)
        if not tracing():
            if buf is None or (started is not None and not started.item()):
                if started is not None:
                    started.fill_(1.0)
                if buf is None:
                    buf = state["momentum_buffer"] = g.detach().clone()
                    return buf
                return buf.copy_(g)
            return buf.mul_(momentum).add_(g * (1 - dampening) if damped else g)
        if buf is None:
            buf = state["momentum_buffer"] = concrete(lambda: zeros_like(p))
            started = state[_STARTED] = concrete(lambda: tensor(0.0)) if damped else None
        elif damped and started is None:  # made by an eager step: already started
            started = state[_STARTED] = concrete(lambda: tensor(1.0))
        if not damped:
            return buf.mul_(momentum).add_(g)
        buf.copy_(where(started != 0, buf * momentum + g * (1 - dampening), g))
        started.fill_(1.0)
        return buf

    def _after_load(self, p: Tensor, state: dict[str, Any]) -> None:
        started = state.get(_STARTED)
        if started is not None:
            started.fill_(1.0 if "momentum_buffer" in state else 0.0)
