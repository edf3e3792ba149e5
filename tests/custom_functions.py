"""Custom autograd Functions written once for graphc and for PyTorch (``functions(M)``),
used by the tests of Functions, hooks and CUDA tensors."""
from __future__ import annotations

import graphc


def functions(M):
    """The same custom Functions written against ``M`` (torch or graphc)."""
    F = M.autograd.Function
    calls = {"two_out": 0}

    class MyReLU(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * (x > 0).to(grad.dtype)

    class Exp(F):  # saves its output: double backward differentiates through it
        @staticmethod
        def forward(ctx, x):
            result = x.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad):
            result, = ctx.saved_tensors
            return grad * result

    class Cube(F):  # a differentiable backward: double backward through it
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 3 * x ** 2

    class SinCos(F):  # two outputs, one backward call with both gradients
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            calls["two_out"] += 1
            x, = ctx.saved_tensors
            assert gs.device == gc.device == x.device  # an unused output's zero too
            return gs * x.cos() - gc * x.sin()

    class ScaleShift(F):  # non-tensor arguments; needs_input_grad per argument
        @staticmethod
        def forward(ctx, x, scale: float, y, tag: str):
            ctx.scale = scale
            ctx.tag = tag
            ctx.seen = ctx.needs_input_grad
            return x * scale + y

        @staticmethod
        def backward(ctx, grad):
            gx = grad * ctx.scale if ctx.needs_input_grad[0] else None
            gy = grad if ctx.needs_input_grad[2] else None
            return gx, None, gy, None

    class RoundSTE(F):  # straight-through estimator
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, grad):
            return grad

    class MulSetup(F):  # forward without ctx, setup_context apart
        @staticmethod
        def forward(x, y, alpha=2.0):
            return x * y * alpha

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, alpha = inputs
            ctx.save_for_backward(x, y)
            ctx.alpha = alpha

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y * ctx.alpha, grad * x * ctx.alpha, None

    return dict(MyReLU=MyReLU, Exp=Exp, Cube=Cube, SinCos=SinCos, ScaleShift=ScaleShift,
                RoundSTE=RoundSTE, MulSetup=MulSetup, calls=calls)


class Branchy(graphc.autograd.Function):
    """Python control flow on a gradient's value in backward: eager only."""

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return g if g.sum() > 0 else -g
