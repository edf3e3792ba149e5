"""Code generation: the optimized graph is planned as buffers, views and kernels
(``kernel``), and kernels become LLVM IR (``cpu``, ``matmul``) through one scalar emitter
with a lowering table keyed by op (``lower``), shared with the PTX path."""
