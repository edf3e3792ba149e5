"""Testing support shipped with graphc: the op table (every op with sample inputs, a numpy
reference and the same line of code for graphc and PyTorch), which the test suite and the
differential fuzzer are generated from, the fuzzer of graphc.load (hostile_files makes
the files, fuzz_files judges what loading them does), and memory soaks (``memory.py``)."""
