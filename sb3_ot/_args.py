"""Argument checks shared by configs and public functions: each error names the function the user
called, the argument, what was expected and what came. numpy integers and floats are accepted
wherever Python ints and floats are."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from dataclasses import asdict, replace
from typing import Any, TypeVar

__all__ = [
    "check_bounded_box",
    "check_choice",
    "check_device",
    "check_float",
    "check_int",
    "check_seeds",
    "check_widths",
    "with_overrides",
]

C = TypeVar("C")


def check_int(value: Any, name: str, func: str, *, minimum: int | None = 1) -> int:
    """``value`` as an ``int`` (a Python or numpy integer, not a bool) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{func}: {name} must be an int; got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{func}: {name} must be {kind}; got {value!r}")
    return int(value)


def check_float(
    value: Any,
    name: str,
    func: str,
    *,
    low: float | None = 0.0,
    high: float | None = None,
    low_open: bool = True,
) -> float:
    """``value`` as a finite ``float`` in ``(low, high]`` (``[low, high]`` with ``low_open=False``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{func}: {name} must be a number; got {value!r} ({type(value).__name__})")
    x = float(value)
    below = low is not None and (x <= low if low_open else x < low)
    above = high is not None and x > high
    if not math.isfinite(x) or below or above:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open else '['}{lo}, {hi}{']' if high is not None else ')'}"
        raise ValueError(f"{func}: {name} must be a finite number in {interval}; got {value!r}")
    return x


def check_choice(value: Any, name: str, func: str, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{func}: {name} must be one of {list(choices)}; got {value!r}")
    return value


def check_device(device: Any, func: str, name: str = "device") -> None:
    """``device`` is ``None`` or names a torch device that exists here (CUDA asked for needs CUDA)."""
    if device is None:
        return
    import torch  # here, so that configs stay importable without torch (the CLI's --help)

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{func}: {name} must name a torch device ('cpu', 'cuda', 'cuda:1'); got {device!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{func}: {name} {device!r} asked for, but torch sees no CUDA device here")


def check_seeds(values: Any, func: str) -> tuple[int, ...]:
    """Seeds: a non-empty sequence of ints >= 0, as a tuple."""
    seeds = tuple(check_int(s, "seeds", func, minimum=0) for s in values)
    if not seeds:
        raise ValueError(f"{func}: seeds must hold at least one seed; got ()")
    return seeds


def check_widths(values: Any, name: str, func: str) -> tuple[int, ...]:
    """Hidden-layer widths: a non-empty sequence of positive ints, as a tuple."""
    widths = tuple(check_int(w, name, func) for w in values)
    if not widths:
        raise ValueError(f"{func}: {name} must hold at least one layer width; got ()")
    return widths


def with_overrides(config: C, overrides: dict[str, Any], func: str) -> C:
    """A copy of the frozen dataclass ``config`` with ``overrides`` applied (validated again by its
    ``__post_init__``); an unknown name is an error that lists it."""
    unknown = set(overrides) - set(asdict(config))  # type: ignore[call-overload]
    if unknown:
        raise ValueError(f"{func}: unknown settings {sorted(unknown)}; see {type(config).__name__}")
    return replace(config, **overrides) if overrides else config  # type: ignore[type-var]


def check_bounded_box(space: Any, func: str, why: str, name: str = "action_space") -> tuple[Any, Any]:
    """``space``'s (low, high) arrays, after checking that it is a gymnasium Box with finite bounds
    (``why`` says what the bounds are used for, in the error)."""
    import gymnasium as gym
    import numpy as np

    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"{func}: {name} must be a gymnasium Box; got {type(space).__name__}")
    if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
        raise ValueError(f"{func}: {name} must be bounded ({why}); got {space}")
    return space.low, space.high
