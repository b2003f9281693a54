"""Matplotlib figures embedded in self-contained HTML reports."""

from __future__ import annotations

import base64
import io
from typing import Any


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend, set up for reports: labels are user data (rater ids, task
    types, prompts), so `$\\x$` prints as typed instead of being parsed as math (which crashed `tether audit`)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def png_base64(fig: Any, dpi: int = 100) -> str:
    """The figure as base64 PNG text (for `src="data:image/png;base64,..."`); closes the figure."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
