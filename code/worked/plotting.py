"""One look for every figure of the book: readable fonts on a phone, light grid, no top/right spines."""

import matplotlib as mpl


def book_style():
    """Apply the book's matplotlib style (called at the top of each chapter)."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 110,
            "font.size": 12,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "savefig.bbox": "tight",
        }
    )
