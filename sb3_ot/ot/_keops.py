"""KeOps backend: geomloss's online (KeOps) Sinkhorn warm start, refined by alternating KeOps softmin
updates until the marginal tolerance holds, and ``row_cost`` as one KeOps reduction. Memory stays
O(B (N + M)): no (N, M) tensor is ever materialised.
"""

from __future__ import annotations

import functools
import os
import warnings

import torch

from sb3_ot._home import cache_home

_LOG_ZERO = -1e5  # log-weight of padded points (geomloss's convention; keeps KeOps free of -inf)


def configure_env() -> None:
    """Defaults KeOps reads at import: a persistent cache of compiled formulas, and no compile chatter.

    Called when :mod:`sb3_ot.ot` is imported; variables the user set are kept. KeOps reads them when
    pykeops is first imported: after ``import ot`` (POT loads pykeops), KeOps's own cache folder is used.
    """
    os.environ.setdefault("KEOPS_CACHE_FOLDER", str(cache_home() / "keops"))
    os.environ.setdefault("PYKEOPS_VERBOSE", "0")
    os.environ.setdefault("KEOPS_VERBOSE", "0")


def _lazy_tensor_cls():
    configure_env()
    import pykeops
    from pykeops.torch import LazyTensor

    if os.environ.get("PYKEOPS_VERBOSE") == "0":  # pykeops may have been imported earlier (geomloss, POT)
        pykeops.set_verbose(False)
    return LazyTensor


@functools.cache
def _probe(device_type: str) -> str | None:
    """Compiles and runs a tiny KeOps reduction on ``device_type``; None if it works, else why not."""
    try:
        LazyTensor = _lazy_tensor_cls()
        x = torch.arange(6.0, device=device_type).view(3, 2) / 6
        y = x.flip(0).contiguous()
        got = ((LazyTensor(x[:, None, :]) - LazyTensor(y[None, :, :])) ** 2).sum(-1).sum(1).view(-1)
        want = torch.cdist(x, y).pow(2).sum(1)
        if not torch.allclose(got, want, atol=1e-4):
            return f"KeOps returned {got.tolist()} where torch gives {want.tolist()}"
    except Exception as exc:  # compiler missing, CUDA missing, ... any failure means "fall back"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


_warned: set[str] = set()


def available(device: torch.device) -> bool:
    """True when KeOps compiles and runs on ``device``; otherwise warns once and returns False."""
    reason = _probe(device.type)
    if reason is not None and device.type not in _warned:
        _warned.add(device.type)
        warnings.warn(
            f"sb3_ot.ot: the KeOps backend is unavailable on {device.type} ({reason}); "
            "using the tensorized backend instead.",
            RuntimeWarning,
            stacklevel=3,
        )
    return reason is None


def _softmin(LazyTensor, xs, ys, h):
    """-log sum_j exp(h_j - |xs_i - ys_j|^2) for batched xs (B,N,D), ys (B,M,D), h (B,M) -> (B,N)."""
    x_i = LazyTensor(xs[:, :, None, :])
    y_j = LazyTensor(ys[:, None, :, :])
    h_j = LazyTensor(h[:, None, :, None])
    return -(h_j - ((x_i - y_j) ** 2).sum(-1)).logsumexp(dim=2).view(xs.shape[0], xs.shape[1])


def _warm_start(x, y, a, b, eps: float, kappa: float, eps_scaling: float | None):
    """geomloss's eps-scaling on its cost ``|x-y|^2/2 = C / (2 kappa)`` at ``eps_g = eps / (2 kappa)``:
    potentials ``(f, g)`` in our convention, close to the target eps."""
    from geomloss import SamplesLoss

    ratio = eps_scaling if (eps_scaling is not None and eps_scaling > 1) else 4.0
    loss = SamplesLoss(
        "sinkhorn",
        p=2,
        blur=(eps / (2 * kappa)) ** 0.5,
        scaling=ratio**-0.5,
        debias=False,
        potentials=True,
        backend="online",
    )
    F, G = loss(a, x, b, y)
    return 2 * kappa * F.view(x.shape[0], x.shape[1]), 2 * kappa * G.view(x.shape[0], -1)


def _refine(LazyTensor, xs, ys, a, b, f, g, eps: float, tol: float, max_iter: int):
    """Alternating softmin updates at the target eps on points scaled so that ``|xs - ys|^2 = C / eps``,
    until the column marginals meet ``tol``; returns ``f, g, log_b, marginal error, iterations``."""
    log_a = torch.where(a > 0, a.log(), torch.full_like(a, _LOG_ZERO))
    log_b = torch.where(b > 0, b.log(), torch.full_like(b, _LOG_ZERO))
    f = eps * _softmin(LazyTensor, xs, ys, log_b + g / eps)  # rows exact
    err, n_iters = float("inf"), 0
    for _ in range(max_iter):
        g_new = eps * _softmin(LazyTensor, ys, xs, log_a + f / eps)
        # Column sums of the plan (f, g) are b_j exp((g_j - g_new_j) / eps).
        err = float((b * torch.expm1((g - g_new) / eps)).abs().sum(1).max())
        n_iters += 1
        if err < tol:
            break
        g = g_new
        f = eps * _softmin(LazyTensor, xs, ys, log_b + g / eps)
    return f, g, log_b, err, n_iters


def sinkhorn_keops(
    x, y, a, b, *, eps: float, cost: str, tol: float, max_iter: int, eps_scaling: float | None
):
    """See :func:`sb3_ot.ot.sinkhorn`. ``x`` (B,N,D), ``y`` (M,D) or (B,M,D), ``a`` (B,N), ``b`` (B,M)."""
    from .sinkhorn import SinkhornResult

    LazyTensor = _lazy_tensor_cls()
    B, N, _ = x.shape
    if y.ndim == 2:
        y = y[None].expand(B, *y.shape)
    x, y = x.contiguous(), y.contiguous()
    kappa = 1.0 if cost == "sqeuclidean" else 0.5  # C = kappa |x - y|^2 on the (normalised) points
    f, g = _warm_start(x, y, a, b, eps, kappa, eps_scaling)
    scale = (kappa / eps) ** 0.5
    xs, ys = x * scale, y * scale
    f, g, log_b, err, n_iters = _refine(LazyTensor, xs, ys, a, b, f, g, eps, tol, max_iter)

    # row_cost_i = a_i sum_j b_j exp((f_i + g_j - C_ij)/eps) C_ij, as one KeOps reduction.
    x_i = LazyTensor(xs[:, :, None, :])
    y_j = LazyTensor(ys[:, None, :, :])
    f_i = LazyTensor((f / eps)[:, :, None, None])
    h_j = LazyTensor((log_b + g / eps)[:, None, :, None])
    d_ij = ((x_i - y_j) ** 2).sum(-1)
    row_cost = a * eps * ((f_i + h_j - d_ij).exp() * d_ij).sum(dim=2).view(B, N)
    return SinkhornResult(
        cost=row_cost.sum(-1), row_cost=row_cost, f=f, g=g, plan=None, n_iters=n_iters,
        marginal_error=err, eps=eps, backend="keops",
    )  # fmt: skip
