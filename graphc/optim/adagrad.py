"""Adagrad, with learning-rate decay and an initial accumulator value."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..creation import full_like, tensor
from ..tensor import Tensor
from .optimizer import Optimizer, concrete, decayed, tracing


class Adagrad(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, {
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable, "fused": fused})
        for group in self.param_groups:  # PyTorch makes Adagrad's state up front
            for p in group["params"]:
                self._state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._closure_loss(closure)
        traced = tracing()
        with no_grad():
            for group in self._groups():
                lr, lr_decay, eps, weight_decay = group.values_of(
                    "lr", "lr_decay", "eps", "weight_decay")
                decay, maximize = group.flag("weight_decay"), group.flag("maximize")
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    state = self._state(p)
                    step_t = state["step"].add_(1)
                    step = step_t.double() if traced else step_t.item()
                    if maximize:
                        g = -g
                    if decay:
                        g = decayed(g, p, weight_decay)
                    clr = lr / (1 + (step - 1) * lr_decay)
                    state_sum = state["sum"]
                    state_sum.add_(g * g)
                    p.add_(g * -clr / (state_sum.sqrt() + eps))
        return loss

    def _state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            init = self.defaults["initial_accumulator_value"]
            state["step"] = concrete(lambda: tensor(0.0))
            state["sum"] = concrete(lambda: full_like(p, init))
        return state
