"""Torch building blocks shared by the learned models (ICVF now; world models and planners next).

* :func:`mlp` -- an MLP whose hidden layers are ``Linear -> activation -> LayerNorm`` (ICVF's order) or
  ``Linear -> LayerNorm -> activation`` (TD-MPC2's).
* :class:`EnsembleLinear` / :func:`ensemble_mlp` -- ``K`` independent MLPs evaluated in one batched
  matmul per layer: inputs ``[K, B, in]`` (or ``[B, in]``, shared by all members) -> ``[K, B, out]``.
* :func:`polyak_update` -- ``target <- (1 - tau) target + tau online``, in place.
* :func:`as_float_tensor` / :func:`like_input` -- the learned models' input check (numpy or torch, shape,
  finite) and output convention (numpy in gives numpy out).
* :func:`conv_encoder` / :func:`conv_decoder` / :func:`image_tensor` -- DreamerV2's 64 x 64 image CNNs
  (the pixel world model's; CMIL's config: depth 48, encoder kernels 4, 4, 4, 4, decoder 5, 5, 6, 6,
  stride 2, ELU) and the checked conversion of frames ``[..., C, 64, 64]`` to their input.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

__all__ = [
    "EnsembleLayerNorm",
    "EnsembleLinear",
    "conv_decoder",
    "conv_encoder",
    "as_float_tensor",
    "ensemble_mlp",
    "image_tensor",
    "like_input",
    "mlp",
    "polyak_update",
]

IMAGE_SIZE = 64  # DreamerV2's (and DITTO's, CMIL's) frame size

Norm = Literal["after", "before", "none"]


def _hidden_block(
    linear: nn.Module, layer_norm: nn.Module, activation: type[nn.Module], norm: Norm
) -> list[nn.Module]:
    if norm == "after":
        return [linear, activation(), layer_norm]
    if norm == "before":
        return [linear, layer_norm, activation()]
    if norm == "none":
        return [linear, activation()]
    raise ValueError(f"mlp: norm must be 'after', 'before' or 'none'; got {norm!r}")


def _stack(
    linear: Callable[[int, int], nn.Module],
    layer_norm: Callable[[int], nn.Module],
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None,
    activation: type[nn.Module],
    norm: Norm,
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += _hidden_block(linear(in_dim, width), layer_norm(width), activation, norm)
        in_dim = width
    if out_dim is not None:
        layers.append(linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None = None,
    *,
    activation: type[nn.Module] = nn.GELU,
    norm: Norm = "after",
) -> nn.Sequential:
    """``[..., in_dim] -> [..., out_dim]`` (``[..., hidden[-1]]`` when ``out_dim`` is None).

    Every hidden layer is a ``Linear`` with ``activation`` and a ``LayerNorm`` placed as ``norm`` says;
    the optional output layer is a plain ``Linear``.
    """
    return _stack(nn.Linear, nn.LayerNorm, in_dim, hidden, out_dim, activation, norm)


class EnsembleLinear(nn.Module):
    """``K`` independent linear layers: ``[K, B, in]`` or ``[B, in]`` -> ``[K, B, out]``.

    Each member is initialised as ``nn.Linear`` would be (uniform in ``+-1/sqrt(in)``).
    """

    def __init__(self, n_members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n_members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, out_dim).uniform_(-bound, bound))

    @property
    def n_members(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:  # one batch shared by every member
            x = x.expand(self.n_members, *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dimension of ``[K, B, width]`` with each member's own scale and shift."""

    def __init__(self, n_members: int, width: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_members, 1, width))
        self.bias = nn.Parameter(torch.zeros(n_members, 1, width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.layer_norm(x, x.shape[-1:], eps=self.eps)
        return torch.addcmul(self.bias, x, self.weight)


def ensemble_mlp(
    n_members: int,
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None = None,
    *,
    activation: type[nn.Module] = nn.GELU,
    norm: Norm = "after",
) -> nn.Sequential:
    """``n_members`` MLPs shaped as :func:`mlp`, evaluated together: ``[K, B, in]`` -> ``[K, B, out]``.

    Every member has its own weights, LayerNorm parameters included: the same function as
    ``n_members`` separate :func:`mlp` calls, in one batched matmul per layer.
    """
    linear = functools.partial(EnsembleLinear, n_members)
    layer_norm = functools.partial(EnsembleLayerNorm, n_members)
    return _stack(linear, layer_norm, in_dim, hidden, out_dim, activation, norm)


@torch.no_grad()
def polyak_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    """Move ``target``'s parameters a fraction ``tau`` towards ``online``'s; copy its buffers."""
    for p, tp in zip(online.parameters(), target.parameters(), strict=True):
        tp.lerp_(p, tau)
    for b, tb in zip(online.buffers(), target.buffers(), strict=True):
        tb.copy_(b)


def conv_encoder(channels: int, depth: int = 48) -> nn.Sequential:
    """``[B, channels, 64, 64] -> [B, 32 * depth]``: four stride-2 convolutions (kernel 4; widths depth x
    1, 2, 4, 8; ELU), 64 -> 31 -> 14 -> 6 -> 2, flattened."""
    layers: list[nn.Module] = []
    in_ch = channels
    for i in range(4):
        layers += [nn.Conv2d(in_ch, depth * 2**i, 4, stride=2), nn.ELU()]
        in_ch = depth * 2**i
    return nn.Sequential(*layers, nn.Flatten())


def conv_decoder(in_dim: int, channels: int, depth: int = 48) -> nn.Sequential:
    """``[B, in_dim] -> [B, channels, 64, 64]``: a linear layer to ``32 * depth`` features at 1 x 1, then
    four stride-2 transposed convolutions (kernels 5, 5, 6, 6; ELU between), 1 -> 5 -> 13 -> 30 -> 64."""
    widths = [depth * 4, depth * 2, depth, channels]
    layers: list[nn.Module] = [nn.Linear(in_dim, 32 * depth), nn.Unflatten(1, (32 * depth, 1, 1))]
    in_ch = 32 * depth
    for i, (kernel, width) in enumerate(zip((5, 5, 6, 6), widths, strict=True)):
        layers.append(nn.ConvTranspose2d(in_ch, width, kernel, stride=2))
        if i < 3:
            layers.append(nn.ELU())
        in_ch = width
    return nn.Sequential(*layers)


def image_tensor(frames: Any, channels: int, name: str, func: str) -> torch.Tensor:
    """Frames ``[..., channels, 64, 64]`` (uint8 0..255, channels first, as SB3's ``VecTransposeImage``
    gives) as float32 in ``[-0.5, 0.5]`` (DreamerV2's scaling). Channels-last frames, another size, a
    float array or a state vector are refused with what came and what was expected."""
    x = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.array(frames))
    want = (channels, IMAGE_SIZE, IMAGE_SIZE)
    if x.ndim < 3:
        raise ValueError(
            f"{func}: {name} must be images [..., {channels}, {IMAGE_SIZE}, {IMAGE_SIZE}]; got shape "
            f"{tuple(x.shape)} (a state vector? this model was built for pixels)"
        )
    got = tuple(x.shape[-3:])
    if got != want:
        hint = (
            " (channels last: transpose to [..., C, H, W], e.g. SB3's VecTransposeImage)"
            if got == (IMAGE_SIZE, IMAGE_SIZE, channels)
            else f" (resize frames to {IMAGE_SIZE} x {IMAGE_SIZE})"
            if got[0] == channels
            else ""
        )
        raise ValueError(
            f"{func}: {name} must be images [..., {channels}, {IMAGE_SIZE}, {IMAGE_SIZE}]; got {got}{hint}"
        )
    if x.dtype != torch.uint8:
        raise ValueError(f"{func}: {name} must be uint8 frames (0..255); got {x.dtype}")
    return x.float() / 255.0 - 0.5


def as_float_tensor(
    x: Any, name: str, func: str, shape: tuple[int, ...] | None, device: torch.device
) -> torch.Tensor:
    """``x`` (numpy, list or tensor) as a finite float32 tensor on ``device`` whose trailing dims are
    ``shape``; errors name ``func`` and the argument ``name``."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.array(x))  # a writable copy
    if shape is not None and (t.ndim < len(shape) or tuple(t.shape[t.ndim - len(shape) :]) != shape):
        want = ", ".join(["..."] + [str(s) for s in shape])
        raise ValueError(f"{func}: {name} must have shape [{want}]; got {tuple(t.shape)}")
    if not (t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise ValueError(f"{func}: {name} must be numeric; got dtype {t.dtype}")
    t = t.to(device=device, dtype=torch.float32)
    if not torch.isfinite(t).all():
        raise ValueError(f"{func}: {name} must be finite; got NaN or inf")
    return t


def like_input(t: torch.Tensor, like: Any) -> Any:
    """``t`` as the caller gave its input: a tensor for a tensor, else a numpy array."""
    return t if isinstance(like, torch.Tensor) else t.cpu().numpy()
