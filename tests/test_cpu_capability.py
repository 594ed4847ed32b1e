"""CPU dispatch (README, "CPU dispatch and wheels"): lamina loads the core compiled for the best ISA
level this CPU runs; LAMINA_CPU_CAPABILITY forces a lower one. Every level the host runs (and the
build holds) gives the same results as the best level, within float32 tolerance; bad values fail
the import with a message naming the valid choices; show_config reports all of it.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import lamina
from lamina import _cpu_dispatch
from lamina.backends import cpu

LEVELS = ["default", "avx2", "avx512"]
BUILT = [c.lower() for c in cpu.built_capabilities()]
SUPPORTED = [c.lower() for c in cpu.get_supported_capabilities()]

# Runs a few ops on fixed inputs and saves the results; argv[1] is the .npz to write.
SCRIPT = r"""
import sys
import numpy as np
import lamina
from lamina import nn
from lamina.nn import functional as F

rng = np.random.default_rng(0)
t = lambda *s: lamina.tensor(rng.standard_normal(s).astype(np.float32))
x = t(67, 129) * 4
out = {"capability": np.array(lamina.backends.cpu.get_cpu_capability())}
out["sigmoid"] = lamina.sigmoid(x).numpy()
out["tanh"] = lamina.tanh(x).numpy()
out["exp"] = lamina.exp(x / 4).numpy()
out["gelu"] = F.gelu(x).numpy()
out["softmax"] = F.softmax(x, dim=1).numpy()
img, w, b = t(4, 3, 13, 11), t(8, 3, 3, 3), t(8)
out["conv"] = F.conv2d(img, w, b, padding=1).numpy()
out["matmul"] = (t(33, 70) @ t(70, 45)).numpy()
lamina.manual_seed(0)
cell = nn.LSTMCell(20, 31)
h, c = cell(t(5, 20), (t(5, 31), t(5, 31)))
out["lstm_h"], out["lstm_c"] = h.detach().numpy(), c.detach().numpy()
np.savez(sys.argv[1], **out)
"""


def _run(code, capability, *args):
    env = dict(os.environ)
    env.pop("LAMINA_CPU_CAPABILITY", None)
    if capability is not None:
        env["LAMINA_CPU_CAPABILITY"] = capability
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_capability_values():
    cap = cpu.get_cpu_capability()
    assert cap in ("DEFAULT", "AVX2", "AVX512")
    assert cap in cpu.get_supported_capabilities()
    assert set(BUILT) <= set(LEVELS) | {"native"}
    assert SUPPORTED == LEVELS[: len(SUPPORTED)] and SUPPORTED, "levels run by this CPU, lowest first"
    if not os.environ.get("LAMINA_CPU_CAPABILITY") and "native" not in BUILT:
        # Unforced, the best level both built and supported is chosen.
        assert cap.lower() == [v for v in BUILT if v in SUPPORTED][-1]
    assert lamina._C is sys.modules["lamina._C"]


@pytest.mark.parametrize("level", ["default", "avx2"])
def test_forced_level_matches_best(level, tmp_path):
    best = [v for v in BUILT if v in SUPPORTED][-1] if "native" not in BUILT else None
    if best is None or level not in BUILT:
        pytest.skip(f"this build holds {BUILT}, not {level!r} (LAMINA_CPU_VARIANTS)")
    if level not in SUPPORTED:
        pytest.skip(f"this CPU does not run {level!r}")
    if level == best:
        pytest.skip(f"{level!r} is the best level built and supported here: nothing higher to compare with")
    res = {}
    for lv in (best, level):
        p = _run(SCRIPT, lv, tmp_path / f"{lv}.npz")
        assert p.returncode == 0, p.stderr[-3000:]
        res[lv] = np.load(tmp_path / f"{lv}.npz")
        assert str(res[lv]["capability"]) == lv.upper()
    for k in res[best].files:
        if k != "capability":
            np.testing.assert_allclose(res[level][k], res[best][k], rtol=1e-5, atol=2e-6, err_msg=k)


@pytest.mark.parametrize("value,needle", [
    ("sse9", "is not a CPU capability; valid choices: default, avx2, avx512"),
    ("native", "is not a CPU capability; valid choices: default, avx2, avx512"),
])
def test_invalid_value_raises(value, needle):
    p = _run("import lamina", value)
    assert p.returncode != 0
    assert "ImportError" in p.stderr and needle in p.stderr, p.stderr[-2000:]


def test_level_above_cpu_or_build_raises():
    # The CPU here may run every level, so ask the chooser directly with a smaller CPU.
    built = {v: (f"lamina._C_{v}", None) for v in LEVELS}
    with pytest.raises(ImportError, match=r"higher than this CPU supports .*valid choices here: default, avx2"):
        _cpu_dispatch._choose(built, 3, "avx512")
    with pytest.raises(ImportError, match=r"lamina._C_avx2 was not built \(built: default\)"):
        _cpu_dispatch._choose({"default": built["default"]}, 4, "AVX2")
    with pytest.raises(ImportError, match=r"exists only for avx512"):
        _cpu_dispatch._choose({"avx512": built["avx512"]}, 3, None)
    assert _cpu_dispatch._choose(built, 3, None) == "avx2"
    assert _cpu_dispatch._choose(built, 4, "Default") == "default"


def test_unbuilt_or_unsupported_level_fails_the_import():
    missing = next((v for v in LEVELS if v not in SUPPORTED or v not in BUILT), None)
    if missing is None:
        pytest.skip("every level is built and supported here")
    p = _run("import lamina", missing)
    assert p.returncode != 0 and "ImportError" in p.stderr and "valid choices here" in p.stderr, p.stderr[-2000:]


def test_show_config(capsys):
    lamina.show_config()
    text = capsys.readouterr().out
    for field in (f"lamina {lamina.__version__}", "compiled for:", "compiler", "flags", "CPU variants built:",
                  "CPU:", "CPU capability: supported", f"chosen {cpu.get_cpu_capability()}", "OpenMP:",
                  "BLAS: OpenBLAS, core", "CUDA: built"):
        assert field in text, f"{field!r} missing from show_config():\n{text}"
