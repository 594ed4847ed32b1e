"""python/lamina/_C.pyi lists every function and class the compiled module binds (regenerate it
with tools/gen_stubs.sh after adding a binding)."""
import ast
import pathlib

import lamina

STUB = pathlib.Path(lamina.__file__).with_name("_C.pyi")


def test_stub_covers_every_binding():
    tree = ast.parse(STUB.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    bound = {n for n in dir(lamina._C) if not n.startswith("_") and callable(getattr(lamina._C, n))}
    missing = sorted(bound - names)
    assert not missing, f"bindings without a stub entry in {STUB.name} (run tools/gen_stubs.sh): {missing}"
