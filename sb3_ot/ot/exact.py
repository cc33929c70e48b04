"""Exact (unregularised) OT values through POT, for evaluation metrics such as ZILOT's W_min."""

from __future__ import annotations

import numpy as np
import ot as pot

from ._checks import as_tensor, check_points, check_weights


def emd(x, y, a=None, b=None, *, metric: str = "euclidean") -> float:
    """Exact OT cost ``min_P <P, C>`` between two weighted point clouds (POT's network simplex).

    Parameters
    ----------
    x : (N, D) source points.   y : (M, D) target points.
    a, b : (N,), (M,) non-negative weights, normalised to sum 1 (None = uniform).
    metric : ground cost ``C_ij = metric(x_i, y_j)`` as in ``ot.dist``: "euclidean",
        "sqeuclidean", "cityblock", "cosine", ...

    Returns
    -------
    float: the optimal transport cost.
    """
    xt = as_tensor(x, "x").double()
    yt = as_tensor(y, "y", like=xt)
    check_points(xt, "x", "N")
    check_points(yt, "y", "M")
    if xt.ndim != 2 or yt.ndim != 2:
        raise ValueError(f"x, y: expected (N, D) and (M, D), got {tuple(xt.shape)} and {tuple(yt.shape)}")
    if xt.shape[1] != yt.shape[1]:
        raise ValueError(f"y: expected the feature dimension D of x ({xt.shape[1]}), got D={yt.shape[1]}")
    a_w = check_weights(a, "a", 1, xt.shape[0], xt, "N")[0].numpy()
    b_w = check_weights(b, "b", 1, yt.shape[0], xt, "M")[0].numpy()
    C = pot.dist(xt.numpy(), yt.numpy(), metric=metric)
    return float(pot.emd2(a_w, b_w, np.ascontiguousarray(C), numItermax=1_000_000))
