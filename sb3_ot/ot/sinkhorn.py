"""Public Sinkhorn entry points: point clouds with a feature cost, or explicit cost tensors.

Conventions
-----------
* ``eps`` is the entropic regularisation of the cost **as written**: the plan minimises
  ``<P, C> + eps * KL(P | a b^T)`` and ``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``.
* ``cost="sqeuclidean"``: ``C_ij = |x_i - y_j|^2`` (no 1/2).
  ``cost="cosine"``: ``C_ij = 1 - <x_i, y_j> / (|x_i| |y_j|) = |x^_i - y^_j|^2 / 2`` on unit vectors.
* geomloss writes its p=2 cost as ``|x - y|^2 / 2`` with ``eps_geomloss = blur^2``. Our sqeuclidean
  problem at ``eps`` is geomloss's at ``blur = sqrt(eps / 2)`` with potentials ``f = 2 F_geomloss``;
  the cosine problem is geomloss's on unit vectors at ``blur = sqrt(eps)`` with ``f = F_geomloss``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import torch

from . import _keops
from ._checks import as_tensor, check_eps, check_finite, check_points, check_weights
from ._dense import single_threaded_blas, solve_dense

Backend = Literal["auto", "tensorized", "keops"]
Cost = Literal["sqeuclidean", "cosine"]

# Dense (B, N, M) work is chunked over the batch so that each chunk's kernel (4 MiB float32) stays in
# cache during the scaling iterations: 3-5x faster than one large batched kernel on 2 cores.
_CHUNK_ELEMENTS = 1 << 20
# A GPU has no such cache to fit: it wants the whole batch in one launch per iteration, bounded only so
# that the (B, N, M) kernel, costs and temporaries (a few float32 copies) stay well inside its memory.
_GPU_CHUNK_ELEMENTS = 1 << 26
# "auto" switches to KeOps on CUDA once a dense problem would hold more than this many entries.
_AUTO_KEOPS_ELEMENTS = 50_000_000


@dataclass
class SinkhornResult:
    """Result of an entropic OT solve. Leading ``B`` is absent when the inputs had no batch dimension.

    Attributes
    ----------
    cost : (B,) transport cost ``<P, C>`` of the entropic plan (no entropy term).
    row_cost : (B, N) ``row_cost[i] = sum_j P_ij C_ij``; sums to ``cost``.
    f, g : (B, N), (B, M) dual potentials in the convention of :mod:`sb3_ot.ot.sinkhorn`
        (values at zero-weight points carry no meaning).
    plan : (B, N, M) transport plan when requested, else None.
    n_iters : Sinkhorn iterations run (all eps stages).
    marginal_error : max over the batch of ``|P^T 1 - b|_1`` (rows are exact; weights sum to 1).
    eps : the regularisation used, on the scale of the cost.
    backend : "tensorized" or "keops".
    """

    cost: torch.Tensor
    row_cost: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    plan: torch.Tensor | None
    n_iters: int
    marginal_error: float
    eps: float
    backend: str

    def _squeeze(self) -> SinkhornResult:
        self.cost, self.row_cost, self.f, self.g = self.cost[0], self.row_cost[0], self.f[0], self.g[0]
        if self.plan is not None:
            self.plan = self.plan[0]
        return self


def _prepare_points(x, y, cost: str):
    x = as_tensor(x, "x")
    y = as_tensor(y, "y", like=x)
    check_points(x, "x", "N")
    check_points(y, "y", "M")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"y: expected the feature dimension D of x ({x.shape[-1]}), got D={y.shape[-1]} "
            f"(x shape {tuple(x.shape)}, y shape {tuple(y.shape)})"
        )
    batched = x.ndim == 3 or y.ndim == 3
    if x.ndim == 3 and y.ndim == 3 and x.shape[0] != y.shape[0]:
        raise ValueError(
            f"y: batch size {y.shape[0]} does not match x's batch size {x.shape[0]} "
            f"(give y as (M, D) to share it across the batch)"
        )
    if x.ndim == 2:
        x = x[None]
    if cost == "cosine":
        x = torch.nn.functional.normalize(x, dim=-1)
        y = torch.nn.functional.normalize(y, dim=-1)
    elif cost != "sqeuclidean":
        raise ValueError(f"cost: expected 'sqeuclidean' or 'cosine', got {cost!r}")
    return x, y, batched


def cost_matrix(x: torch.Tensor, y: torch.Tensor, cost: str = "sqeuclidean") -> torch.Tensor:
    """Dense cost tensor for ``x`` (B, N, D) and ``y`` (M, D) or (B, M, D) -> (B, N, M).

    Inputs for ``cost="cosine"`` must already be unit vectors. The data is centred on ``y``'s mean
    first, which keeps the float32 expansion ``|x|^2 + |y|^2 - 2 x.y`` accurate.
    """
    center = y.mean(dim=-2, keepdim=True)
    xc = x - (center if y.ndim == 3 else center[None])
    yc = y - center
    x2 = (xc * xc).sum(-1)
    y2 = (yc * yc).sum(-1)
    if yc.ndim == 2:
        C = torch.matmul(xc, yc.T).mul_(-2.0)
        C.add_(y2[None, None, :])
    else:
        C = torch.bmm(xc, yc.transpose(1, 2)).mul_(-2.0)
        C.add_(y2[:, None, :])
    C.add_(x2[:, :, None]).clamp_(min=0.0)
    if cost == "cosine":
        C.mul_(0.5)
    return C


def _pick_backend(backend: str, x: torch.Tensor, n_rows: int, n_cols: int) -> str:
    if backend not in ("auto", "tensorized", "keops"):
        raise ValueError(f"backend: expected 'auto', 'tensorized' or 'keops', got {backend!r}")
    if backend == "auto":
        big = x.shape[0] * n_rows * n_cols > _AUTO_KEOPS_ELEMENTS
        backend = "keops" if (x.is_cuda and big) else "tensorized"
    if backend == "keops" and not _keops.available(x.device):
        return "tensorized"
    return backend


def sinkhorn(
    x,
    y,
    a=None,
    b=None,
    *,
    eps: float,
    cost: Cost = "sqeuclidean",
    backend: Backend = "auto",
    tol: float = 1e-4,
    max_iter: int = 10_000,
    eps_scaling: float | None = None,
    return_plan: bool = False,
) -> SinkhornResult:
    """Entropic OT between point clouds with a feature cost.

    Parameters
    ----------
    x : (N, D) or (B, N, D) source points (e.g. an agent trajectory's features).
    y : (M, D) or (B, M, D) target points (e.g. an expert trajectory's); (M, D) is shared by the batch.
    a, b : (N,)/(B, N) and (M,)/(B, M) non-negative weights, normalised to sum 1; None is uniform.
        Zero weight marks padding, so trajectories of different lengths share one batch.
    eps : entropic regularisation on the scale of the cost as written (see module docstring).
    cost : "sqeuclidean" (``|x - y|^2``) or "cosine" (``1 - cos(x, y)``).
    backend : "tensorized" (dense torch, O(B N M) memory; on a CPU the batch is solved in
        cache-sized chunks spread over ``torch.get_num_threads()`` threads), "keops" (geomloss online + KeOps,
        O(B (N + M)) memory) or "auto" (KeOps for large problems on CUDA, dense otherwise).
        KeOps that cannot compile falls back to "tensorized" with a warning.
    tol : L1 tolerance on the plan's marginals (weights sum to 1).
    max_iter : iteration cap at the target eps.
    eps_scaling : ratio between successive eps stages from the cost range down to ``eps``. None (the
        default) solves the dense problem at ``eps`` directly: with over-relaxed updates that was as
        fast or faster on every benchmark setting. The KeOps backend always anneals (geomloss's
        schedule, ratio 4 when None).
    return_plan : also return the dense (B, N, M) plan (dense memory even on "keops").

    Returns
    -------
    SinkhornResult on the device and dtype of ``x``.
    """
    eps = check_eps(eps)
    x, y, batched = _prepare_points(x, y, cost)
    B, N, M = x.shape[0], x.shape[1], y.shape[-2]
    if y.ndim == 3 and x.shape[0] == 1 and y.shape[0] > 1:
        x = x.expand(y.shape[0], N, x.shape[-1])
        B = y.shape[0]
    a_w = check_weights(a, "a", B, N, x, "N")
    b_w = check_weights(b, "b", B, M, x, "M")
    chosen = _pick_backend(backend, x, N, M)
    if chosen == "keops":
        result = _keops.sinkhorn_keops(
            x, y, a_w, b_w, eps=eps, cost=cost, tol=tol, max_iter=max_iter, eps_scaling=eps_scaling
        )
        if return_plan:
            C = cost_matrix(x, y, cost)
            result.plan = (
                a_w[:, :, None]
                * b_w[:, None, :]
                * torch.exp((result.f[:, :, None] + result.g[:, None, :] - C) / eps)
            )
    else:
        per_chunk = _CHUNK_ELEMENTS if x.device.type == "cpu" else _GPU_CHUNK_ELEMENTS
        chunk = max(1, per_chunk // (N * M))

        def solve_chunk(s: int) -> SinkhornResult:
            ys = y if y.ndim == 2 else y[s : s + chunk]
            C = cost_matrix(x[s : s + chunk], ys, cost)
            return _solve_costs(
                C, a_w[s : s + chunk], b_w[s : s + chunk], eps, tol, max_iter, None, eps_scaling, return_plan
            )

        parts = _map_chunks(solve_chunk, list(range(0, B, chunk)), x.device)
        result = _concat(parts, eps, "tensorized")
    _check_result(result, "sinkhorn", x, y)
    _warn_if_unconverged(result, tol, max_iter)
    return result if batched else result._squeeze()


def _check_result(result: SinkhornResult, func: str, *inputs: torch.Tensor) -> None:
    """Raise instead of returning a non-finite result (NaN compares False with every tolerance, so it
    would otherwise pass as converged)."""
    if bool(torch.isfinite(result.row_cost).all()) and math.isfinite(result.marginal_error):
        return
    largest = max(float(t.abs().max()) for t in inputs)
    raise FloatingPointError(
        f"{func}: the transport costs are not finite (NaN or inf) in {inputs[0].dtype}: the inputs reach "
        f"|value| = {largest:.3g}, whose squared distances overflow or lose all precision; rescale the "
        "features (e.g. standardise them) or pass float64 inputs"
    )


def _map_chunks(solve: Callable[[int], SinkhornResult], starts: list[int], device: torch.device) -> list:
    """``[solve(s) for s in starts]``; on a CPU, spread over ``torch.get_num_threads()`` threads.

    Each chunk is a cache-sized Sinkhorn whose scaling iterations are single-threaded mat-vecs that
    release the GIL, so chunks on separate cores run in parallel with identical results (speed-ups in
    docs/benchmarks.md). torch runs
    one thread per chunk meanwhile (its pool size is restored afterwards); BLAS stays single-threaded
    for the whole call.
    """
    threads = torch.get_num_threads()
    workers = min(threads, len(starts)) if device.type == "cpu" else 1
    if workers <= 1:
        return [solve(s) for s in starts]

    def solve_single(s: int) -> SinkhornResult:
        torch.set_num_threads(1)
        return solve(s)

    try:
        torch.set_num_threads(1)
        with single_threaded_blas(), ThreadPoolExecutor(workers, thread_name_prefix="sb3_ot") as pool:
            return list(pool.map(solve_single, starts))
    finally:
        torch.set_num_threads(threads)


def _warn_if_unconverged(result: SinkhornResult, tol: float, max_iter: int) -> None:
    if not result.marginal_error <= tol:
        warnings.warn(
            f"sb3_ot.ot: Sinkhorn stopped at max_iter={max_iter} with marginal error "
            f"{result.marginal_error:.2e} > tol={tol:g}; raise max_iter or eps for an accurate plan.",
            RuntimeWarning,
            stacklevel=3,
        )


def _solve_costs(C, a, b, eps, tol, max_iter, n_iters, eps_scaling, return_plan) -> SinkhornResult:
    sol = solve_dense(C, a, b, eps, tol=tol, max_iter=max_iter, n_iters=n_iters, eps_scaling=eps_scaling)
    density = sol.kernel  # (B, N, M): P_ij / (a_i b_j)
    plan = density.mul_(a[:, :, None]).mul_(b[:, None, :])
    row_cost = (plan * C).sum(-1) if return_plan else plan.mul_(C).sum(-1)
    return SinkhornResult(
        cost=row_cost.sum(-1),
        row_cost=row_cost,
        f=sol.f,
        g=sol.g,
        plan=plan if return_plan else None,
        n_iters=sol.n_iters,
        marginal_error=sol.marginal_error,
        eps=eps,
        backend="tensorized",
    )


def _concat(parts: list[SinkhornResult], eps: float, backend: str) -> SinkhornResult:
    if len(parts) == 1:
        return parts[0]
    return SinkhornResult(
        cost=torch.cat([p.cost for p in parts]),
        row_cost=torch.cat([p.row_cost for p in parts]),
        f=torch.cat([p.f for p in parts]),
        g=torch.cat([p.g for p in parts]),
        plan=None if parts[0].plan is None else torch.cat([p.plan for p in parts]),
        n_iters=max(p.n_iters for p in parts),
        marginal_error=max(p.marginal_error for p in parts),
        eps=eps,
        backend=backend,
    )


def sinkhorn_matrix(
    C,
    a=None,
    b=None,
    *,
    eps: float,
    tol: float = 1e-4,
    max_iter: int = 10_000,
    n_iters: int | None = None,
    eps_scaling: float | None = None,
    return_plan: bool = False,
) -> SinkhornResult:
    """Batched entropic OT on given cost tensors (learned costs such as ZILOT's ``-V(s, g)``).

    Parameters
    ----------
    C : (N, M) or (B, N, M) costs, finite.
    a, b : (N,)/(B, N) and (M,)/(B, M) weights (None = uniform, zero = padding).
    eps : regularisation on the scale of ``C``.
    tol, max_iter : marginal tolerance and iteration cap at the target eps.
    n_iters : run exactly this many iterations at the target eps (fixed cost per call, as in MPC).
    eps_scaling : ratio between eps stages from the range of ``C`` down to ``eps``; None (default)
        solves at ``eps`` directly.
    return_plan : also return the (B, N, M) plan.
    """
    eps = check_eps(eps)
    C = as_tensor(C, "C")
    if C.ndim not in (2, 3) or C.shape[-1] == 0 or C.shape[-2] == 0 or (C.ndim == 3 and C.shape[0] == 0):
        raise ValueError(
            f"C: expected a non-empty (N, M) or (B, N, M) cost tensor, got shape {tuple(C.shape)}"
        )
    check_finite(C, "C")
    if n_iters is not None and n_iters < 1:
        raise ValueError(f"n_iters: expected a positive int or None, got {n_iters!r}")
    batched = C.ndim == 3
    if not batched:
        C = C[None]
    B, N, M = C.shape
    a_w = check_weights(a, "a", B, N, C, "N")
    b_w = check_weights(b, "b", B, M, C, "M")
    result = _solve_costs(C, a_w, b_w, eps, tol, max_iter, n_iters, eps_scaling, return_plan)
    _check_result(result, "sinkhorn_matrix", C)
    if n_iters is None:
        _warn_if_unconverged(result, tol, max_iter)
    return result if batched else result._squeeze()
