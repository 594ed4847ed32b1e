"""Every op binding stays in step with the rest of its family (DESIGN.md principle 4, issue 12).

The rule that ties the files together: a binding's family is the name of the file that binds it.
``cpp/bindings/ops_<family>.cpp`` binds ``cpp/ops/<family>.h`` (the file's first line names any
other header) and is tested in ``tests/ops/test_<family>.py``. For every ``X_forward`` in
``lamina._C``:

* there is an ``X_backward`` binding, or NO_BACKWARD says why not;
* ``python/lamina/_C.pyi`` has entries for both (regenerate with ``tools/gen_stubs.sh``);
* ``tests/ops/test_<family>.py`` exists and mentions ``X`` as a word, or one of TEST_NAMES[X]
  (the Python names through which the tests reach a kernel whose name they never spell);
* a bench row's name or group (bench/workloads/, bench/*.cpp) mentions the family,
  or one of BENCH_NAMES[family], or NO_BENCH lists the family.

And every function the module binds names its arguments (``py::arg``), so signatures and the stub
read ``conv2d_forward(x, w, b, p)`` rather than ``arg0, arg1, ...``.

The exception lists are checked too: an entry that is no longer needed fails, so they only shrink.
"""
import ast
import pathlib
import re

import pytest

import lamina
from lamina import _C

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINDINGS = ROOT / "cpp" / "bindings"
STUB = pathlib.Path(lamina.__file__).with_name("_C.pyi")

# X -> why there is no X_backward binding.
NO_BACKWARD = {
    "add": "raw kernel the autograd engine uses to accumulate .grad; differentiable add goes "
           "through binary_forward/binary_backward",
    "cat": "the gradient of cat is slices of dout (narrow views), no kernel",
    "mean": "the gradient of mean is sum_backward with scale 1/n",
    "argmax": "int64 output: no gradient",
    "any": "bool output: no gradient",
    "adaptive_max_pool2d": "returns indices; its backward is max_pool2d_backward",
}

# X -> Python-level names the family's tests use when X itself (a kernel name) never appears.
TEST_NAMES = {
    "activation": ["relu", "sigmoid", "tanh"],
    "binary": ["mul", "sub"],
    "binary_scalar": ["mul", "sub"],
    "unary": ["exp", "log", "neg"],
    "cross_entropy_prob": ["probs", "probabilities"],
    "nll": ["nll_loss"],
    "pointwise_loss": ["mse_loss", "l1_loss"],
    "max_pool2d_2x2": ["2x2"],
    "max_dim": ["max"],
}

# family -> names of its bench rows (bench/workloads/, bench/*.cpp) when the family
# name itself does not appear.
BENCH_NAMES = {
    "activation": ["relu"],
    "elementwise": ["add_forward"],
    "matmul": ["sgemm"],
    "rnn": ["LSTM", "GRU"],
    "attention": ["MultiheadAttention"],
}

# Families without a bench row yet (to do: add rows to bench/workloads/ and drop them here).
NO_BENCH: set = set()


def _binding_families():
    """{binding name: family} from the m.def calls in cpp/bindings/ops_<family>.cpp."""
    fams = {}
    for path in sorted(BINDINGS.glob("ops_*.cpp")):
        for name in re.findall(r'm\.def\(\s*"(\w+)"', path.read_text()):
            fams[name] = path.stem[len("ops_"):]
    return fams


needs_source = pytest.mark.skipif(not BINDINGS.is_dir(), reason="needs the source tree (cpp/bindings)")
FAMILIES = _binding_families() if BINDINGS.is_dir() else {}
FORWARDS = sorted(n[: -len("_forward")] for n in dir(_C) if n.endswith("_forward"))


def _mentions(text: str, words) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", text) for w in words)


def _stub_names():
    tree = ast.parse(STUB.read_text())
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _bench_rows() -> str:
    """Names (and groups) of the bench rows, one per line: @register("name", "group", ...) in
    bench/workloads/, r.name = "..." and bench_gemm(o, "name", ...) in bench/*.cpp (lamina_bench)."""
    py = "\n".join(f.read_text() for f in sorted((ROOT / "bench" / "workloads").glob("*.py")))
    cpp = "\n".join(f.read_text() for f in sorted((ROOT / "bench").glob("*.cpp")))
    rows = [f"{n} {g}" for n, g in re.findall(r'register\(\s*f?"([^"]+)",\s*"(\w+)"', py)]
    for stmt in re.findall(r"r\.name = ([^;]+);", cpp):
        rows += re.findall(r'"([^"]+)"', stmt)
    rows += re.findall(r'bench_gemm\(o, "(\w+)"', cpp)
    return "\n".join(rows)


def test_forwards_found():
    assert len(FORWARDS) > 20, FORWARDS


@needs_source
def test_bench_rows_found():
    assert len(_bench_rows().splitlines()) > 10, _bench_rows()


@pytest.mark.parametrize("op", FORWARDS)
def test_forward_has_backward(op):
    if op in NO_BACKWARD:
        assert not hasattr(_C, f"{op}_backward"), (
            f"{op}_backward exists now: remove {op!r} from NO_BACKWARD in {pathlib.Path(__file__).name}")
        return
    assert hasattr(_C, f"{op}_backward"), (
        f"_C.{op}_forward has no _C.{op}_backward: bind one next to it, or add {op!r} to NO_BACKWARD "
        f"with the reason")


def test_no_backward_entries_are_ops():
    stale = sorted(set(NO_BACKWARD) - set(FORWARDS))
    assert not stale, f"NO_BACKWARD names ops that are not bound as X_forward: {stale}"


@pytest.mark.parametrize("op", FORWARDS)
def test_forward_and_backward_in_stub(op):
    names = _stub_names()
    want = [f"{op}_forward"] + ([] if op in NO_BACKWARD else [f"{op}_backward"])
    missing = [n for n in want if n not in names]
    assert not missing, f"{missing} missing from {STUB.name}: run tools/gen_stubs.sh"


@needs_source
@pytest.mark.parametrize("op", FORWARDS)
def test_forward_is_tested(op):
    fam = FAMILIES.get(f"{op}_forward")
    assert fam, f"_C.{op}_forward is not bound in any cpp/bindings/ops_<family>.cpp"
    test = ROOT / "tests" / "ops" / f"test_{fam}.py"
    assert test.is_file(), f"{op}_forward is bound in ops_{fam}.cpp but {test.relative_to(ROOT)} is missing"
    words = [op] + TEST_NAMES.get(op, [])
    assert _mentions(test.read_text(), words), (
        f"{test.relative_to(ROOT)} never mentions {words}: test {op}, or list the Python name it is "
        f"tested under in TEST_NAMES")


@needs_source
@pytest.mark.parametrize("op", FORWARDS)
def test_family_has_bench_row(op):
    fam = FAMILIES.get(f"{op}_forward")
    assert fam, f"_C.{op}_forward is not bound in any cpp/bindings/ops_<family>.cpp"
    found = _mentions(_bench_rows(), [fam] + BENCH_NAMES.get(fam, []))
    if fam in NO_BENCH:
        assert not found, f"bench/ has a {fam} row now: remove {fam!r} from NO_BENCH"
    else:
        assert found, f"no bench row for the {fam} family ({op}_forward): add one to bench/workloads/ (the module of its kind)"


@needs_source
def test_exception_lists_name_real_things():
    fams = set(FAMILIES.values())
    assert not sorted(NO_BENCH - fams), sorted(NO_BENCH - fams)
    assert not sorted(set(BENCH_NAMES) - fams), sorted(set(BENCH_NAMES) - fams)
    assert not sorted(set(TEST_NAMES) - set(FORWARDS)), sorted(set(TEST_NAMES) - set(FORWARDS))


@needs_source
def test_every_binding_is_in_a_family_file():
    """module.cpp only wires register_* calls; functions live in the family files."""
    module = (BINDINGS / "module.cpp").read_text()
    assert "m.def(" not in module, "module.cpp should only call register_* (bind in ops_<family>.cpp)"


def _signatures(obj):
    """The signature lines of a pybind11 function's docstring (one per overload)."""
    doc = getattr(obj, "__doc__", None) or ""
    name = getattr(obj, "__name__", "")
    return [ln for ln in doc.splitlines() if re.match(rf"\s*(\d+\.\s*)?{re.escape(name)}\(", ln)]


def _bound_functions():
    out = []
    for n in sorted(dir(_C)):
        obj = getattr(_C, n)
        if n.startswith("_"):
            continue
        if type(obj).__name__ == "builtin_function_or_method":
            out.append((n, obj))
        elif isinstance(obj, type) and n == "Tensor":
            for m in sorted(vars(obj)):
                if not m.startswith("_") and callable(getattr(obj, m)):
                    out.append((f"Tensor.{m}", getattr(obj, m)))
    return out


def test_bindings_name_their_arguments():
    unnamed = []
    for qual, fn in _bound_functions():
        if any(re.search(r"\barg\d+\b", sig) for sig in _signatures(fn)):
            unnamed.append(qual)
    assert not unnamed, f"bindings without py::arg names (signature shows arg0, ...): {unnamed}"


def test_stub_has_no_unnamed_arguments():
    text = STUB.read_text()
    bad = sorted({m.group(1) for m in re.finditer(r"def (\w+)\([^)]*\barg\d+\b", text)})
    assert not bad, f"{STUB.name} shows arg0-style parameters for {bad}: name them with py::arg, regenerate"
