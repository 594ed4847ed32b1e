"""Every ```python block of README.md runs as written (issue 19), so the README cannot drift from
the API. Each block runs alone in a fresh interpreter (its own namespace, a temporary working
folder, a timeout); nothing is prepended, so a block must import what it uses.

A block may start with marker comments the test honours (keep them rare):

* ``# readme: fragment -- <why>``: not runnable alone (it needs a cluster, a file the user brings,
  or it elides code); skipped, and the reason is shown by ``pytest -ra``.
* ``# readme: slow``: trains for more than a few seconds; runs only when ``LAMINA_README_SLOW=1``.
* ``# readme: needs <module> [<module> ...]``: an optional extra; skipped when a module is absent.

Blocks that need data use the bundled digits or data they make themselves.
"""
import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TIMEOUT_S = 120
SLOW_TIMEOUT_S = 900   # the DQN recipe trains for minutes on a loaded 2-core machine

MARKER = re.compile(r"^#\s*readme:\s*(\w+)\s*(.*)$")


def _blocks():
    """[(line number of the opening fence, code)] for every ```python block of README.md."""
    if not README.is_file():
        return []
    out, code, start = [], None, 0
    for i, line in enumerate(README.read_text().splitlines(), 1):
        if code is None and line.strip() == "```python":
            code, start = [], i
        elif code is not None and line.strip() == "```":
            out.append((start, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
    assert code is None, f"README.md: ```python block at line {start} is never closed"
    return out


def _markers(code):
    """{marker: argument text} from the block's leading comment lines."""
    found = {}
    for line in code.splitlines():
        m = MARKER.match(line.strip())
        if m:
            found[m.group(1)] = m.group(2).strip(" -—")
        elif line.strip() and not line.lstrip().startswith("#"):
            break
    return found


BLOCKS = _blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 10, f"found only {len(BLOCKS)} python blocks in README.md"
    fragments = [ln for ln, code in BLOCKS if "fragment" in _markers(code)]
    # fragments are the exception: most of the README must execute.
    assert len(fragments) <= len(BLOCKS) // 4, f"too many fragments (README lines {fragments})"


def test_markers_are_known():
    for line, code in BLOCKS:
        unknown = set(_markers(code)) - {"fragment", "slow", "needs"}
        assert not unknown, f"README.md line {line}: unknown marker(s) {sorted(unknown)}"


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"line{ln}" for ln, _ in BLOCKS])
def test_readme_block_runs(line, code, tmp_path):
    marks = _markers(code)
    if "fragment" in marks:
        pytest.skip(f"README line {line} is a fragment: {marks['fragment'] or 'no reason given'}")
    if "slow" in marks and os.environ.get("LAMINA_README_SLOW") != "1":
        pytest.skip(f"README line {line} is slow; set LAMINA_README_SLOW=1 to run it")
    for mod in marks.get("needs", "").split():
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"README line {line} needs {mod}")
    limit = SLOW_TIMEOUT_S if "slow" in marks else TIMEOUT_S
    script = tmp_path / "block.py"
    script.write_text(code)
    env = dict(os.environ)
    # the package under test, wherever the test run found it (source tree or installed wheel).
    import lamina
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(lamina.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")   # a shared CI core; results do not depend on it
    env["MPLBACKEND"] = "Agg"
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"README line {line}: block ran past {limit} s")
    assert proc.returncode == 0, (f"README line {line}: block failed (exit {proc.returncode})\n"
                                  f"--- stderr ---\n{proc.stderr[-4000:]}")


# Compiled-variant modules and folders that the README names as files, not as API.
NOT_API = re.compile(r"\._C_\w+$|\.libs$")


def _resolve(name: str) -> bool:
    """Whether a dotted name (``lamina.x.y``, ``nn.X``, ``F.x``) exists: the longest importable
    module prefix, then attributes."""
    parts = name.split(".")
    if parts[0] == "F":
        parts = ["lamina", "nn", "functional"] + parts[1:]
    elif parts[0] == "nn":
        parts = ["lamina", "nn"] + parts[1:]
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    else:
        return False
    for p in parts[i:]:
        if not hasattr(obj, p):
            return False
        obj = getattr(obj, p)
    return True


def test_api_names_in_the_prose_exist():
    """Every ``lamina.x``, ``nn.X`` and ``F.x`` the README names in inline code outside the code
    blocks resolves (a renamed or removed function shows up here)."""
    text = re.sub(r"```.*?```", "", README.read_text(), flags=re.S)
    names = set()
    for code in re.findall(r"`([^`\n]+)`", text):
        for m in re.finditer(r"(?<![\w/.])((?:lamina|F|nn)(?:\.[A-Za-z_]\w*)+)", code):
            if not NOT_API.search(m.group(1)):
                names.add(m.group(1))
    assert len(names) > 50, f"found only {len(names)} API names in the README"
    missing = sorted(n for n in names if not _resolve(n))
    assert not missing, f"README.md names API that does not exist: {missing}"
