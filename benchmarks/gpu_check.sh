#!/usr/bin/env bash
# The GPU checks, in a few minutes of GPU time: the gpu-marked tests, then the GPU
# benchmarks. Run from the repository root on a machine with an NVIDIA GPU.
set -u
pip install -q -e ".[test]" >/dev/null 2>&1 || pip install -q -e . numpy networkx llvmlite pytest
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
timeout 300 python -m pytest -q -m gpu -p no:warnings -x tests/test_cuda_driver.py tests/test_concurrency.py \
    tests/test_cuda_tensors.py 2>&1 | tail -25
timeout 240 python benchmarks/gpu.py
