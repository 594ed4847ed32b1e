"""matplotlib, imported only when a picture is drawn (``pip install "lamina[viz]"``), on the
file-only Agg backend; and the helpers every picture function shares (saving, a PNG's path)."""
from __future__ import annotations

import os


def pyplot():
    """matplotlib.pyplot on the Agg backend, or an ImportError naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("lamina.viz needs matplotlib, which is not installed: "
                          "pip install \"lamina[viz]\" (or pip install matplotlib)") from None
    matplotlib.use("Agg", force=True)  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, dpi: int = 100) -> str:
    """Saves ``fig`` as ``path`` (parent folders created), closes it and returns the path as a str."""
    plt = pyplot()
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
