"""bench/compare.py says where it ran (issue 13): the header fields from bench/hostinfo.py, the
FMA peak probe binding, the --capability plumbing, and --list still working. Nothing here times
anything or asserts a speed."""
import os
import pathlib
import subprocess
import sys

import pytest

import lamina

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
needs_bench = pytest.mark.skipif(not (BENCH / "hostinfo.py").is_file(), reason="needs the source tree")


@pytest.fixture(scope="module")
def hostinfo():
    sys.path.insert(0, str(BENCH))
    try:
        import hostinfo as mod
        yield mod
    finally:
        sys.path.remove(str(BENCH))


def test_fma_peak_binding():
    p = lamina._C.fma_peak(0.005)
    assert set(p) >= {"gflops", "median_gflops", "isa", "vector_bits", "accumulators", "fused", "chunks",
                      "level"}
    assert p["gflops"] > 0 and p["median_gflops"] > 0 and p["chunks"] >= 3
    assert p["vector_bits"] in (32, 128, 256, 512)
    assert p["level"] in ("default", "avx2", "avx512", "generic")
    with pytest.raises(ValueError, match="fma_peak"):
        lamina._C.fma_peak(0.0)


def test_gemm_kernel_peak_binding():
    # The SGEMM micro-kernel on L1-resident panels (cpp/core/gemm_f32.cpp): the tile of this level's
    # kernel and a positive rate; speed itself is the benchmark's business, not the test's.
    g = lamina._C.gemm_kernel_peak(0.005)
    assert set(g) == {"gflops", "median_gflops", "chunks", "mr", "nr", "kc"}
    assert g["gflops"] >= g["median_gflops"] > 0 and g["chunks"] >= 3
    level = lamina._C.fma_peak(0.005)["level"]
    assert (g["mr"], g["nr"]) == {"avx512": (14, 32), "avx2": (6, 16)}.get(level, (4, 8)) and g["kc"] == 128
    with pytest.raises(ValueError, match="gemm_kernel_peak"):
        lamina._C.gemm_kernel_peak(61.0)


@needs_bench
def test_header_fields_without_probe(hostinfo):
    info = hostinfo.host_info(lamina, probe_seconds=0)
    for key in ("cpu_model", "isa", "levels_supported", "capability", "compiled_level", "module",
                "threads", "cpus_usable", "cpu_count", "blas_corename", "fma_peak", "gemm_kernel_peak"):
        assert key in info, key
    assert info["cpu_model"] and info["blas_corename"]
    assert info["fma_peak"] is None and hostinfo.peak_per_thread(info) is None
    assert info["gemm_kernel_peak"] is None
    assert info["threads"] == lamina.get_num_threads()
    assert isinstance(info["capability"], str) and info["capability"]
    lines = hostinfo.header_lines(info)
    assert lines[0].startswith("CPU: ") and any("capability" in ln for ln in lines)


@needs_bench
def test_header_with_probe_names_the_peak(hostinfo):
    info = hostinfo.host_info(lamina, probe_seconds=0.005)
    assert info["fma_peak"]["gflops"] > 0 and info["compiled_level"] == info["fma_peak"]["level"]
    assert any("peak" in ln and "GFLOP/s" in ln for ln in hostinfo.header_lines(info))
    assert info["gemm_kernel_peak"]["gflops"] > 0
    assert any(ln.startswith("SGEMM micro-kernel") and "% of the FMA median" in ln for ln in hostinfo.header_lines(info))


@needs_bench
def test_levels_from_flags(hostinfo):
    v2 = set(hostinfo.LEVEL_FLAGS["default"])
    v3 = v2 | set(hostinfo.LEVEL_FLAGS["avx2"])
    v4 = v3 | set(hostinfo.LEVEL_FLAGS["avx512"])
    assert hostinfo.supported_levels(set()) == []
    assert hostinfo.supported_levels(v2) == ["default"]
    assert hostinfo.supported_levels(v3) == ["default", "avx2"]
    assert hostinfo.supported_levels(v4) == ["default", "avx2", "avx512"]
    assert hostinfo.supported_levels(v4 - {"fma"}) == ["default"]  # a level needs every one below
    assert hostinfo.missing_flags("avx512", v3 - {"bmi2"}) == ["bmi2"] + list(hostinfo.LEVEL_FLAGS["avx512"])


@needs_bench
def test_cpuinfo_parses_a_file(hostinfo, tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Test CPU @ 3.0GHz\nflags\t\t: fpu sse4_2 avx2 fma\n\n"
                 "processor\t: 1\nmodel name\t: other\n")
    model, flags = hostinfo.cpuinfo(str(f))
    assert model == "Test CPU @ 3.0GHz" and flags == {"fpu", "sse4_2", "avx2", "fma"}


@needs_bench
def test_compare_helpers():
    pytest.importorskip("torch")
    sys.path.insert(0, str(BENCH))
    try:
        import compare
    finally:
        sys.path.remove(str(BENCH))
    assert compare.strip_capability(["--threads", "1", "--capability", "all", "--capability=avx2", "-v"]) == [
        "--threads", "1", "-v"]
    row = dict(threads=2, lamina_gflops=100.0, torch_gflops=50.0)
    compare.add_pct_peak(row, 200.0)
    assert row["lamina_pct_peak"] == pytest.approx(25.0) and row["torch_pct_peak"] == pytest.approx(12.5)
    plain = dict(threads=1)
    compare.add_pct_peak(plain, 200.0)
    assert "lamina_pct_peak" not in plain and compare.fmt_pct(plain) == ""
    # Median against the probe's median, best against its best: both statistics on both sides.
    best = dict(threads=1, lamina_gflops=100.0, torch_gflops=50.0, lamina_best_gflops=120.0,
                torch_best_gflops=60.0)
    compare.add_pct_peak(best, 200.0, 240.0)
    assert best["lamina_pct_peak"] == pytest.approx(50.0) and best["lamina_pct_peak_best"] == pytest.approx(50.0)
    assert best["torch_pct_peak_best"] == pytest.approx(25.0)
    # A warm block: one untimed call first, then `calls` calls each timed on its own.
    calls = []
    times = compare.time_block(lambda: calls.append(1), 4)
    assert len(times) == 4 and len(calls) == 5 and all(t >= 0 for t in times)


@needs_bench
def test_compare_list_runs():
    pytest.importorskip("torch")
    # The installed lamina (a checkout's python/ holds no compiled core outside editable installs).
    env = dict(os.environ)
    out = subprocess.run([sys.executable, str(BENCH / "compare.py"), "--list", "--filter", "conv2d_a"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "conv2d_a fwd" in out.stdout
