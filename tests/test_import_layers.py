"""The Python package's layers point one way (DESIGN.md, "Layers point one way"): no import circles
among lamina's modules, counting imports inside functions too, and the bottom layers import
nothing above them. An in-repo check with ``ast`` (no lamina import, no shared/ tools needed).

Layers, bottom to top: tensor base (_C, _dtype, _state, _format, tensor) -> autograd -> ops ->
_api (fills Tensor methods, lamina.* and nn.functional) -> nn -> optim/data/train -> applications.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "python" / "lamina"

# Modules that may import only from these prefixes (plus the standard library and numpy).
BOTTOM = {
    "lamina._state": (),
    "lamina._dtype": ("lamina._C",),
    "lamina._format": ("lamina._dtype",),
    "lamina.tensor": ("lamina._C", "lamina._dtype", "lamina._state", "lamina._format"),
}
LAYER_ORDER = ["tensor", "autograd", "ops", "_api", "nn"]  # lamina.<first part> -> rank


def _modules() -> dict:
    mods = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods[".".join(parts)] = f
    return mods


MODS = _modules()
EXTENSIONS = {"lamina._C"}  # compiled, imports nothing from the Python package


def _imports(name: str, path: Path):
    """(target module, inside a function?, line) for every lamina import in a module. An import
    through a package resolves to the submodule when one is named (``from ..ops import shape``)."""
    is_pkg = path.name == "__init__.py"
    out = []

    def walk(node, in_func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for a in child.names:
                    cand = f"{target}.{a.name}"
                    out.append((cand if cand in MODS or cand in EXTENSIONS else target, in_func, child.lineno))
            elif isinstance(child, ast.Import):
                out.extend((a.name, in_func, child.lineno) for a in child.names)
            walk(child, in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return [(t, f, ln) for t, f, ln in out if t == "lamina" or t.startswith("lamina.")]


def _edges(through_packages: bool) -> dict:
    """module -> set of lamina modules it imports. ``through_packages``: an import of a package
    (its __init__) counts as a dependency on it, which is stricter than shared/tools/import_cycles.py."""
    edges = {m: set() for m in MODS}
    for m, f in MODS.items():
        for t, _, _ in _imports(m, f):
            if t in EXTENSIONS:
                continue
            while t and t not in MODS:
                t = t.rpartition(".")[0]
            if not t or t == m:
                continue
            if not through_packages and MODS[t].name == "__init__.py":
                continue
            if MODS[m].name == "__init__.py" and t.startswith(m + "."):
                continue  # a package importing its own submodules
            edges[m].add(t)
    return edges


def _circles(edges: dict) -> list:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_package_found():
    assert "lamina.tensor" in MODS and "lamina.ops.elementwise" in MODS, f"lamina sources not found under {PKG}"


def test_no_import_circles():
    circles = _circles(_edges(through_packages=False))
    assert not circles, "import circles among lamina modules:\n" + "\n".join(" ".join(c) for c in circles)


def test_no_import_circles_through_package_inits():
    # Stricter: a package __init__ counts too. Only the entry points above the lamina package
    # (cli, __main__; lamina/__init__ does not import them) may import the lamina package itself.
    edges = _edges(through_packages=True)
    below = [m for m in edges if m not in ("lamina", "lamina.cli", "lamina.__main__")]
    bad = sorted(m for m in below if "lamina" in edges[m])
    assert not bad, f"modules importing the top-level lamina package (upward): {bad}"
    circles = _circles({m: edges[m] - {"lamina"} for m in edges})
    assert not circles, "import circles (counting package __init__s):\n" + "\n".join(" ".join(c) for c in circles)


@pytest.mark.parametrize("mod", sorted(BOTTOM))
def test_bottom_layer_imports_only_below(mod):
    allowed = BOTTOM[mod]
    bad = [(t, ln) for t, _, ln in _imports(mod, MODS[mod]) if not t.startswith(allowed) or not allowed]
    assert not bad, f"{mod} imports above the tensor base: {bad}"


def test_tensor_imports_no_autograd_or_ops():
    targets = [t for t, _, _ in _imports("lamina.tensor", MODS["lamina.tensor"])]
    assert not [t for t in targets if t.startswith(("lamina.autograd", "lamina.ops"))], targets


def _rank(mod: str):
    parts = mod.split(".")
    return LAYER_ORDER.index(parts[1]) if len(parts) > 1 and parts[1] in LAYER_ORDER else None


def test_core_layers_point_down():
    """tensor -> autograd -> ops -> _api -> nn: no module imports a layer above its own."""
    up = []
    for m, f in MODS.items():
        rm = _rank(m)
        if rm is None:
            continue
        for t, _, ln in _imports(m, f):
            rt = _rank(t)
            if rt is not None and rt > rm:
                up.append(f"{m}:{ln} -> {t}")
    assert not up, "upward imports:\n" + "\n".join(up)


def test_no_class_injection_or_late_imports_in_core():
    """Nothing assigns into another module's namespace (``mod.Tensor = Tensor``), and the core
    (tensor, autograd, ops) has no function-level lamina imports."""
    late = []
    for m, f in MODS.items():
        if _rank(m) is None or _rank(m) > LAYER_ORDER.index("ops"):
            continue
        late += [f"{m}:{ln} -> {t}" for t, in_func, ln in _imports(m, f) if in_func]
    assert not late, "function-level imports in the core (import at the top; layers point down):\n" + "\n".join(late)
    injected = []
    for m, f in MODS.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                for tgt in node.targets:
                    if isinstance(tgt, ast.Attribute) and isinstance(tgt.value, ast.Name) \
                            and tgt.value.id.startswith("_") and tgt.attr == "Tensor":
                        injected.append(f"{m}:{node.lineno}")
    assert not injected, f"Tensor injected into other modules: {injected}"


def test_op_modules_declare_exports():
    """Each op module declares __all__, FUNCTIONAL and TENSOR_METHODS (lamina/_api.py reads them)."""
    missing = []
    for m, f in MODS.items():
        if not m.startswith("lamina.ops.") or m.rpartition(".")[2].startswith("_"):
            continue
        assigned = set()
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            assigned |= {t.id for t in targets if isinstance(t, ast.Name)}
        lack = {"__all__", "FUNCTIONAL", "TENSOR_METHODS"} - assigned
        if lack:
            missing.append(f"{m}: {sorted(lack)}")
    assert not missing, "op modules without export declarations:\n" + "\n".join(missing)


def test_every_op_module_is_collected_by_api():
    tree = ast.parse((PKG / "_api.py").read_text(encoding="utf-8"))
    listed = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "OP_MODULES" for t in node.targets):
            listed = {e.id for e in node.value.elts}
    ops = {m.rpartition(".")[2] for m in MODS if m.startswith("lamina.ops.") and not m.rpartition(".")[2].startswith("_")}
    assert ops - {"ops"} == listed, f"ops modules not in _api.OP_MODULES: {sorted(ops - listed)}; unknown: {sorted(listed - ops)}"


def test_matches_shared_tool():
    """shared/tools/import_cycles.py (when shared/ sits beside the checkout, as in CI) agrees."""
    import subprocess
    import sys

    tool = PKG.parents[2] / "shared" / "tools" / "import_cycles.py"
    if not tool.is_file():
        pytest.skip(f"{tool} not present")
    r = subprocess.run([sys.executable, str(tool), str(PKG)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 circle(s)" in r.stdout, r.stdout
