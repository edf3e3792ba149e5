"""The README's main command, ``python -m graphc.demo``, at a tiny setting."""
import subprocess
import sys

import pytest

pytest.importorskip("sklearn", reason="the demo's data set comes with scikit-learn (the demo "
                                      "extra)")

from graphc import demo  # noqa: E402


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_demo_trains_eagerly_and_compiled_to_the_same_numbers(tmp_path, capsys, model):
    out = demo.main(["--epochs", "1", "--batch-size", "64", "--model", model, "--quiet",
                     "--out", str(tmp_path)])
    eager, compiled = out["eager"], out["compiled"]
    assert eager.steps == compiled.steps == 1438 // 64
    assert eager.accuracy > 0.7 and compiled.accuracy > 0.7  # one short epoch (chance: 0.1)
    # the same model to float rounding; half-trained, a few test images sit on a boundary
    assert abs(eager.accuracy - compiled.accuracy) <= 6 / 359
    assert out["drift"] < 1e-4  # the same losses, step by step
    assert eager.losses[-1] < 0.7 * eager.losses[0]
    ir = (tmp_path / "train_step.ir.txt").read_text()
    assert "graph train_step(" in ir and "# ---- stage: kernels" in ir
    text = capsys.readouterr().out
    assert "compiled over eager:" in text and str(tmp_path) in text


def test_demo_runs_as_a_module(tmp_path):
    r = subprocess.run([sys.executable, "-m", "graphc.demo", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--epochs" in r.stdout and "--model" in r.stdout
