"""Input validation shared by the OT entry points: every error names the argument, what was expected
and what came."""

from __future__ import annotations

import math

import numpy as np
import torch


def as_tensor(value, name: str, *, like: torch.Tensor | None = None) -> torch.Tensor:
    """Converts an array-like to a floating torch tensor (device and dtype follow ``like`` when given)."""
    if value is None:
        raise ValueError(f"{name}: expected an array, got None")
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise ValueError(
                f"{name}: expected an array-like of numbers, got {type(value).__name__}"
            ) from exc
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
        ):
            raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    elif not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    elif t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    if t.numel() and not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).nonzero()[0].tolist()
        kind = "NaN" if bool(torch.isnan(t).any()) else "inf"
        raise ValueError(f"{name}: contains {kind} (first at index {tuple(bad)}); expected finite values")


def check_eps(eps: float) -> float:
    try:
        value = float(eps)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"eps: expected a positive float, got {eps!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"eps: expected a positive finite float, got {eps!r}")
    return value


def check_points(x: torch.Tensor, name: str, n_name: str) -> None:
    """``x`` must be (n, D) or (B, n, D) with n >= 1 and D >= 1."""
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected shape ({n_name}, D) or (B, {n_name}, D), got shape {tuple(x.shape)}"
        )
    if x.shape[-2] == 0 or x.shape[-1] == 0 or (x.ndim == 3 and x.shape[0] == 0):
        raise ValueError(
            f"{name}: expected a non-empty ({n_name}, D) or (B, {n_name}, D) array, got shape {tuple(x.shape)}"
        )
    check_finite(x, name)


def check_weights(w, name: str, batch: int, n: int, like: torch.Tensor, n_name: str) -> torch.Tensor:
    """Returns weights of shape (batch, n), each row normalised to sum 1 (uniform when ``w`` is None).

    Zero weight marks padding; negative, NaN or all-zero rows are errors.
    """
    if w is None:
        return like.new_full((batch, n), 1.0 / n)
    t = as_tensor(w, name, like=like)
    if t.ndim == 1:
        if t.shape[0] != n:
            raise ValueError(f"{name}: expected shape ({n_name},) = ({n},) or (B, {n}), got {tuple(t.shape)}")
        t = t.expand(batch, n)
    elif t.ndim == 2:
        if t.shape[1] != n or t.shape[0] not in (1, batch):
            raise ValueError(f"{name}: expected shape ({n},) or ({batch}, {n}), got {tuple(t.shape)}")
        t = t.expand(batch, n)
    else:
        raise ValueError(f"{name}: expected shape ({n_name},) or (B, {n_name}), got {tuple(t.shape)}")
    check_finite(t, name)
    if bool((t < 0).any()):
        raise ValueError(f"{name}: expected non-negative weights, got a minimum of {float(t.min()):.3g}")
    total = t.sum(-1, keepdim=True)
    if bool((total <= 0).any()):
        row = int((total[:, 0] <= 0).nonzero()[0])
        raise ValueError(f"{name}: weights of batch element {row} are all zero; expected a positive total")
    return t / total
