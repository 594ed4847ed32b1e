"""python/lamina/_C.pyi agrees with the compiled module and with the Python wrappers (issue 19):
every stub function has the binding's parameter names and types (read from the signature pybind11
puts in each docstring), and a public Python function that forwards to the binding of the same name
takes the binding's parameters in the same order (tests/test_stubs.py checks that every binding
has a stub entry at all)."""
import ast
import importlib
import inspect
import pathlib
import re
import sys

import pytest

import lamina
from lamina import _C

STUB = pathlib.Path(lamina.__file__).with_name("_C.pyi")
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _stub_functions():
    tree = ast.parse(STUB.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _norm(annotation: str) -> str:
    """'lamina._C_avx512.Tensor | None' -> 'Tensor | None'; typing spellings made uniform."""
    s = re.sub(r"\blamina\._C\w*\.", "", annotation)
    s = re.sub(r"\btyping\.", "", s)
    s = re.sub(r"\bnumpy\.", "np.", s)
    s = re.sub(r"\bobject\b", "Any", s)          # pybind11 says object where stubgen writes Any
    return s.replace(" ", "").replace('"', "'")


def _runtime_signature(name):
    """[(param, annotation)], return annotation from pybind11's first docstring line, or None
    for overloaded bindings (their docstring lists several signatures)."""
    doc = (getattr(_C, name).__doc__ or "").strip().split("\n")[0]
    m = re.match(rf"{name}\((.*)\) -> (.*)$", doc)
    if not m:
        return None
    params = []
    for p in re.split(r",\s*(?![^\[\]]*\])", m.group(1)):
        if p.strip():
            pname, _, ann = p.partition(":")
            params.append((pname.strip(), _norm(ann.split("=")[0])))
    return params, _norm(m.group(2))


STUBS = _stub_functions()


def test_stub_functions_match_the_compiled_signatures():
    checked, wrong = 0, []
    for name, node in STUBS.items():
        rt = _runtime_signature(name)
        if rt is None:
            continue
        params, ret = rt
        stub_params = [(a.arg, _norm(ast.unparse(a.annotation)) if a.annotation else "") for a in node.args.args]
        stub_ret = _norm(ast.unparse(node.returns)) if node.returns else ""
        if [p for p, _ in params] != [p for p, _ in stub_params]:
            wrong.append(f"{name}: parameters {[p for p, _ in stub_params]} in the stub, "
                         f"{[p for p, _ in params]} bound")
        elif [a for _, a in params] != [a for _, a in stub_params] or ret != stub_ret:
            wrong.append(f"{name}: types {stub_params} -> {stub_ret} in the stub, {params} -> {ret} bound")
        checked += 1
    assert checked >= 100, f"only {checked} bindings had a readable signature"
    assert not wrong, "regenerate python/lamina/_C.pyi (tools/gen_stubs.sh):\n" + "\n".join(wrong)


# Python wrappers whose parameters differ from the binding's on purpose (name -> why).
WRAPPER_EXCEPTIONS = {
    "from_numpy": "the Python name of the array argument is free (torch.from_numpy takes it positionally)",
    "set_rng_state": "takes get_rng_state()'s (seed, offset) pair as one value, as torch.set_rng_state does",
}


def _forwarding_wrappers():
    """(module.name, function) for public Python functions whose body calls _C.<their own name>."""
    sys.path.insert(0, str(DOCS))
    try:
        import _api
    finally:
        sys.path.remove(str(DOCS))
    seen, out = set(), []
    for modname, _, _ in _api.MODULES:
        mod = importlib.import_module(modname)
        for n in _api.public_names(modname):
            f = getattr(mod, n)
            if not inspect.isfunction(f) or id(f) in seen or f.__name__ not in STUBS:
                continue
            seen.add(id(f))
            if re.search(rf"_C\.{f.__name__}\(", inspect.getsource(f)):
                out.append((f"{modname}.{n}", f))
    return out


@pytest.mark.skipif(not (DOCS / "_api.py").is_file(), reason="needs the source tree (docs/_api.py)")
def test_python_wrappers_take_the_bindings_parameters():
    wrappers = _forwarding_wrappers()
    assert len(wrappers) >= 5, [w for w, _ in wrappers]
    wrong = []
    for qual, f in wrappers:
        name = f.__name__
        stub_params = [a.arg for a in STUBS[name].args.args]
        py_params = list(inspect.signature(f).parameters)
        if name in WRAPPER_EXCEPTIONS:
            assert py_params[:len(stub_params)] != stub_params, f"{name}: no longer an exception; drop it"
            continue
        if py_params[:len(stub_params)] != stub_params:
            wrong.append(f"{qual}{inspect.signature(f)} vs _C.{name}({', '.join(stub_params)})")
        ret = STUBS[name].returns
        hint = inspect.signature(f).return_annotation
        if ret is not None and hint is not inspect.Signature.empty:
            want = _norm(ast.unparse(ret))
            got = _norm(hint if isinstance(hint, str) else getattr(hint, "__name__", str(hint)))
            if want != got:   # a wrapper returning a lamina.Tensor for a _C.Tensor matches by name
                wrong.append(f"{qual}: returns {got}, _C.{name} returns {want}")
    assert not wrong, "\n".join(wrong)
