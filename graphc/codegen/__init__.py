"""Code generation: fused groups of the optimized graph become kernels, and kernels become
LLVM IR through one scalar emitter with a lowering table keyed by op.

Step 1 (this code): elementwise ops fuse into flat loops over their output, compiled for
the host CPU; other ops still run in the numpy reference interpreter between kernels.
"""
