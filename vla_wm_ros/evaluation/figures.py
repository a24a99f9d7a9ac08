"""Figures written to files by the evaluation commands: headless, laid out, closed.

matplotlib is imported only when a figure is made (it is slow to import), on the Agg
backend so no display is needed.
"""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    """Lay out `fig`, write it to `path` and free it (figures are not kept open)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
