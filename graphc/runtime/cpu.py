"""Runs a compiled program on the CPU: its steps in order, kernels through ctypes (one call
each, the GIL released) and the remaining nodes with the numpy reference implementation.

Step 1 of the native runtime: every value lives in its own numpy array; the planned
arena and the single entry point for a whole program come with matmul and reductions.
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..codegen.cpu import CompiledKernels
from ..codegen.fusion import Kernel, schedule
from ..ir.core import Node
from ..ir.graph import Graph
from ..ir.reference import run_op


class NativeProgram:
    """A graph cut into steps; kernels compiled to native code once, at construction."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.steps = schedule(graph)
        self.kernels = [s for s in self.steps if isinstance(s, Kernel)]
        self.compiled = CompiledKernels(self.kernels, graph.name) if self.kernels else None
        self.calls = {}
        for k in self.kernels:
            proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * (1 + len(k.inputs))))
            self.calls[k.name] = proto(self.compiled.address(k.name))

    def run(self, env: dict[int, np.ndarray]) -> list[np.ndarray]:
        for step in self.steps:
            if isinstance(step, Kernel):
                ins = [np.ascontiguousarray(env[id(x)]) for x in step.inputs]
                out = np.empty(step.shape, dtype=step.root.dtype.np)
                self.calls[step.name](out.ctypes.data, *[a.ctypes.data for a in ins])
                env[id(step.root)] = out
            else:
                n: Node = step
                env[id(n)] = run_op(n.op, n.attrs, [env[id(x)] if type(x) is Node else x
                                                    for x in n.inputs], n.dtype)
        return [env[id(o)] if type(o) is Node else o for o in self.graph.outputs]

    def describe(self) -> str:
        """The ``kernels`` stage: each step, kernels with the ops they fuse."""
        lines = [f"program {self.graph.name}: {len(self.kernels)} kernels, "
                 f"{len(self.steps) - len(self.kernels)} interpreted nodes"]
        for s in self.steps:
            if isinstance(s, Kernel):
                ops = " -> ".join(m.op.name for m in s.nodes)
                lines.append(f"  kernel {s.name} {s.root.dtype.short}{list(s.shape)} "
                             f"reads {len(s.inputs)}: {ops}")
            else:
                lines.append(f"  interpret {s.op.name} {s.dtype.short}{list(s.shape)}")
        return "\n".join(lines)
