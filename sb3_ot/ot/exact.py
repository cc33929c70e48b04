"""Exact (unregularised) OT through POT: values for evaluation metrics such as ZILOT's W_min, and plans of
small cost matrices (the causal per-step OT reward)."""

from __future__ import annotations

import numpy as np
import torch

from ._checks import as_tensor, check_finite, check_points, check_weights


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
    import ot as pot  # POT loads its backends on import: only when exact OT is asked for

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


def emd_matrix(C, a=None, b=None) -> torch.Tensor:
    """Exact OT plans of given cost matrices through POT's network simplex.

    Parameters
    ----------
    C : (N, M) or (B, N, M) costs.
    a, b : (N,)/(B, N) and (M,)/(B, M) non-negative weights, normalised to sum 1 (None = uniform).
        Zero weight marks padding: those rows and columns get no mass and do not enter the solve.

    Returns
    -------
    (N, M) or (B, N, M) plans on the device and dtype of ``C``. One simplex solve per batch element,
    on the CPU: for the small problems it serves (a few hundred points) it is faster than entropic
    Sinkhorn at small eps, whose iteration count grows as eps falls.
    """
    import ot as pot

    Ct = as_tensor(C, "C")
    if Ct.ndim not in (2, 3):
        raise ValueError(f"C: expected (N, M) or (B, N, M) costs, got shape {tuple(Ct.shape)}")
    batched = Ct.ndim == 3
    C3 = Ct if batched else Ct[None]
    check_finite(C3, "C")
    B, N, M = C3.shape
    a_w = check_weights(a, "a", B, N, C3, "N").double().cpu().numpy()
    b_w = check_weights(b, "b", B, M, C3, "M").double().cpu().numpy()
    costs = C3.detach().double().cpu().numpy()
    plans = np.zeros((B, N, M))
    for k in range(B):
        rows, cols = np.flatnonzero(a_w[k] > 0), np.flatnonzero(b_w[k] > 0)
        sub = np.ascontiguousarray(costs[k][np.ix_(rows, cols)])
        ra, cb = a_w[k, rows], b_w[k, cols]
        plans[k][np.ix_(rows, cols)] = pot.emd(ra / ra.sum(), cb / cb.sum(), sub, numItermax=1_000_000)
    out = torch.from_numpy(plans).to(device=Ct.device, dtype=Ct.dtype)
    return out if batched else out[0]
