"""Sphinx configuration for lamina's API reference: autodoc + napoleon (Google-style sections), one
page per public module written by _api.py at build time. Every public class and function must have a
docstring: a missing one is a warning, which -W (tests/test_docs.py) turns into a failed build.

Build: python -m sphinx -W -b html docs docs/_build/html   (needs `pip install ".[docs]"`)."""
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if os.environ.get("LAMINA_DOCS_SRC"):          # document the source tree rather than an installed copy
    sys.path.insert(0, os.environ["LAMINA_DOCS_SRC"])

import _api

project = "lamina"
author = "lamina contributors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# A method overridden without a docstring stays undocumented rather than showing a third-party
# parent's text (tensorboardX's SummaryWriter docstrings point at images we do not ship).
autodoc_inherit_docstrings = False
autodoc_default_options = {"exclude-members": "__init__, __weakref__, __dict__, __module__"}
exclude_patterns = ["_build", "images"]
html_theme = "alabaster"
master_doc = "index"


def _write_pages(app):
    from sphinx.util import logging
    log = logging.getLogger("lamina.docs")
    out = HERE / "api"
    out.mkdir(exist_ok=True)
    seen = set()
    for modname, title, blurb in _api.MODULES:
        text = _api.page(modname, title, blurb, seen)
        path = out / f"{modname}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    toc = ["Modules", "=======", "", ".. toctree::", "   :maxdepth: 1", ""]
    toc += [f"   {modname}" for modname, _, _ in _api.MODULES]
    (out / "index.rst").write_text("\n".join(toc) + "\n")
    for name in _api.undocumented():
        log.warning(f"undocumented public API: {name} has no docstring")


def setup(app):
    app.connect("builder-inited", _write_pages)
