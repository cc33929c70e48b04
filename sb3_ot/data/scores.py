"""D4RL's normalized score: 0 for uniform random actions, 100 for the expert."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["normalized_score"]


def normalized_score(returns: float | Iterable[float], ref_min: float, ref_max: float) -> float:
    """``100 * (mean(returns) - ref_min) / (ref_max - ref_min)``.

    ``returns`` is one return or several (their mean is scored); ``ref_min`` / ``ref_max`` are a dataset's
    reference returns (``ref_min_score`` / ``ref_max_score`` in its Minari metadata).
    """
    mean = float(np.mean(np.asarray(returns, dtype=np.float64)))
    span = float(ref_max) - float(ref_min)
    if not np.isfinite(span) or span == 0:
        raise ValueError(
            f"normalized_score: ref_max - ref_min must be finite and non-zero; got {ref_max!r} - {ref_min!r}"
        )
    return 100.0 * (mean - float(ref_min)) / span
