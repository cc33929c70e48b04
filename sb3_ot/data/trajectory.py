"""The one trajectory type of sb3-ot.

A :class:`Trajectory` holds one episode: ``T + 1`` observations (the reset observation and the one
after every step), ``T`` actions (or none, for observation-only expert demonstrations), ``T`` rewards
(or none, before relabelling), whether the episode ended in a terminal state, and optional per-step
infos. It validates shapes and values once, on construction, and stores read-only copies, so code
downstream can trust any ``Trajectory`` it is handed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

__all__ = ["Trajectory"]

#: Key :meth:`Trajectory.observations` reads from dict observations when no key is given.
DEFAULT_OBS_KEY = "observation"


class _FrozenDict(dict):
    """A ``dict`` that refuses mutation (picklable, unlike ``types.MappingProxyType``)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Trajectory mappings are read-only; build a new Trajectory instead")

    __setitem__ = __delitem__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FrozenDict, (dict(self),))


def _frozen_copy(name: str, value: Any, *, numeric: bool = True) -> np.ndarray:
    """Return a read-only copy of ``value``, which must be a numpy array (numeric unless told)."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"Trajectory: {name} must be a numpy array; got {type(value).__name__}")
    if numeric and not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
        raise ValueError(f"Trajectory: {name} must have a numeric or bool dtype; got dtype {value.dtype}")
    out = np.array(value, copy=True)
    out.flags.writeable = False
    return out


def _check_finite(name: str, array: np.ndarray) -> None:
    """Raise if a floating-point ``array`` holds NaN or inf, naming the first bad index."""
    if not np.issubdtype(array.dtype, np.inexact):
        return
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        shown = index if len(index) > 1 else index[0]
        raise ValueError(f"Trajectory: {name} must be finite; got {array[index]} at index {shown}")


def _frozen_obs(
    obs: Any,
) -> tuple[np.ndarray | _FrozenDict, list[tuple[str, np.ndarray]]]:
    """Read-only copies of the observations, and each array with its name for error messages."""
    if not isinstance(obs, Mapping):
        frozen = _frozen_copy("obs", obs)
        return frozen, [("obs", frozen)]
    if len(obs) == 0:
        raise ValueError("Trajectory: obs must be an array or a non-empty dict of arrays; got {}")
    items: dict[str, np.ndarray] = {}
    for key, value in obs.items():
        if not isinstance(key, str):
            raise ValueError(f"Trajectory: obs keys must be str; got {key!r}")
        items[key] = _frozen_copy(f"obs[{key!r}]", value)
    return _FrozenDict(items), [(f"obs[{key!r}]", value) for key, value in items.items()]


def _check_obs_lengths(named_obs: list[tuple[str, np.ndarray]]) -> int:
    """Check ranks, a common length ``T + 1 >= 2`` and finiteness; return ``T``."""
    for name, value in named_obs:
        if value.ndim < 2:
            raise ValueError(
                f"Trajectory: {name} must have shape [T+1, D, ...] (ndim >= 2; reshape scalar "
                f"observations to [T+1, 1]); got shape {value.shape}"
            )
    lengths = {name: value.shape[0] for name, value in named_obs}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"Trajectory: obs values must all have the same length T + 1; got lengths {lengths}")
    for name, value in named_obs:
        if value.shape[0] < 2:
            raise ValueError(
                f"Trajectory: {name} must hold at least 2 observations (T >= 1 steps); got shape {value.shape}"
            )
        _check_finite(name, value)
    return named_obs[0][1].shape[0] - 1


def _frozen_per_step(name: str, value: Any, n_steps: int, *, numeric: bool = True) -> np.ndarray:
    """A read-only copy of a ``[T, ...]`` array (finite if numeric); ``name`` is used in errors."""
    array = _frozen_copy(name, value, numeric=numeric)
    if array.ndim < 1 or array.shape[0] != n_steps:
        raise ValueError(
            f"Trajectory: {name} must have shape [T, ...] with T = len(obs) - 1 = {n_steps}; "
            f"got shape {array.shape}"
        )
    if numeric:
        _check_finite(name, array)
    return array


def _frozen_infos(infos: Any, n_steps: int) -> _FrozenDict:
    """Read-only ``[T, ...]`` copies of the per-step infos (any dtype); ``None`` gives an empty mapping."""
    if infos is not None and not isinstance(infos, Mapping):
        raise ValueError(
            f"Trajectory: infos must be a mapping str -> array [T, ...] or None; got {type(infos).__name__}"
        )
    items: dict[str, np.ndarray] = {}
    for key, value in (infos or {}).items():
        if not isinstance(key, str):
            raise ValueError(f"Trajectory: infos keys must be str; got {key!r}")
        items[key] = _frozen_per_step(f"infos[{key!r}]", value, n_steps, numeric=False)
    return _FrozenDict(items)


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _mappings_equal(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(_arrays_equal(a[k], b[k]) for k in a)


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """One episode of an environment, validated and immutable.

    Parameters
    ----------
    obs : np.ndarray or Mapping[str, np.ndarray]
        Observations, shape ``[T + 1, *obs_shape]`` with ``obs.ndim >= 2`` (a scalar observation is
        ``[T + 1, 1]``). ``obs[0]`` is the reset observation and ``obs[t + 1]`` the observation after
        action ``t``. Goal-conditioned environments give a dict (e.g. ``observation``,
        ``achieved_goal``, ``desired_goal``), each value ``[T + 1, *shape]`` with ``ndim >= 2``.
    acts : np.ndarray or None
        Actions, shape ``[T, *act_shape]`` (``[T]`` for ``Discrete`` actions). ``None`` for
        observation-only demonstrations.
    rews : np.ndarray or None
        Rewards, shape ``[T]``. ``None`` before rewards are computed (relabelling fills them).
    terminated : bool
        Keyword-only and required. ``True`` if the episode ended in a terminal state (no
        bootstrapping past ``obs[T]``), ``False`` if it was truncated / timed out (``obs[T]`` is an
        ordinary state).
    infos : Mapping[str, np.ndarray] or None
        Per-step extras, each value ``[T, ...]`` (any dtype). ``None`` is stored as an empty mapping.

    Raises
    ------
    ValueError
        If an argument has the wrong type, rank or length, if ``T < 1``, or if ``obs``, ``acts`` or
        ``rews`` hold NaN or inf. The message names the argument, what was expected and what came.

    Notes
    -----
    Arrays are copied on construction and made read-only; mappings are read-only too. Equality
    (``==``) compares every array exactly, dtype and shape included.
    """

    obs: np.ndarray | Mapping[str, np.ndarray]
    acts: np.ndarray | None = None
    rews: np.ndarray | None = None
    _: KW_ONLY
    terminated: bool
    infos: Mapping[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        obs, named_obs = _frozen_obs(self.obs)
        n_steps = _check_obs_lengths(named_obs)
        acts = None if self.acts is None else _frozen_per_step("acts", self.acts, n_steps)
        rews = None
        if self.rews is not None:
            rews = _frozen_copy("rews", self.rews)
            if rews.shape != (n_steps,):
                raise ValueError(
                    f"Trajectory: rews must have shape [T] with T = len(obs) - 1 = {n_steps}; "
                    f"got shape {rews.shape}"
                )
            _check_finite("rews", rews)
        if not isinstance(self.terminated, bool | np.bool_):
            raise ValueError(
                f"Trajectory: terminated must be a bool; got {type(self.terminated).__name__} "
                f"{self.terminated!r}"
            )
        infos = _frozen_infos(self.infos, n_steps)

        object.__setattr__(self, "obs", obs)
        object.__setattr__(self, "acts", acts)
        object.__setattr__(self, "rews", rews)
        object.__setattr__(self, "terminated", bool(self.terminated))
        object.__setattr__(self, "infos", infos)

    # ------------------------------------------------------------------ accessors
    @property
    def n_steps(self) -> int:
        """Number of steps ``T`` (actions taken); there are ``T + 1`` observations."""
        first = next(iter(self.obs.values())) if isinstance(self.obs, Mapping) else self.obs
        return int(first.shape[0]) - 1

    def __len__(self) -> int:
        """Number of steps ``T``."""
        return self.n_steps

    @property
    def is_dict_obs(self) -> bool:
        """Whether observations are a dict of arrays (goal-conditioned environments)."""
        return isinstance(self.obs, Mapping)

    def observations(self, key: str | None = None) -> np.ndarray:
        """Return one observation array, shape ``[T + 1, *obs_shape]`` (read-only, no copy).

        Parameters
        ----------
        key : str or None
            For dict observations, the key to read (default ``"observation"``). Must be ``None`` for
            array observations.

        Raises
        ------
        ValueError
            If ``key`` is given for array observations, or is not a key of the dict observations.
        """
        if isinstance(self.obs, Mapping):
            key = DEFAULT_OBS_KEY if key is None else key
            if key not in self.obs:
                raise ValueError(
                    f"Trajectory.observations: key {key!r} is not in the dict observations; "
                    f"available keys: {sorted(self.obs)}"
                )
            return self.obs[key]
        if key is not None:
            raise ValueError(
                f"Trajectory.observations: key {key!r} given but observations are an array of shape "
                f"{self.obs.shape}, not a dict; pass key=None"
            )
        return self.obs

    # ------------------------------------------------------------------ equality & pickling
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        if self.terminated != other.terminated or self.is_dict_obs != other.is_dict_obs:
            return False
        if isinstance(self.obs, Mapping):
            assert isinstance(other.obs, Mapping)
            if not _mappings_equal(self.obs, other.obs):
                return False
        elif not _arrays_equal(self.obs, other.obs):  # type: ignore[arg-type]
            return False
        return (
            _arrays_equal(self.acts, other.acts)
            and _arrays_equal(self.rews, other.rews)
            and _mappings_equal(self.infos or {}, other.infos or {})
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through __init__ so unpickled arrays are validated and read-only again.
        obs = dict(self.obs) if isinstance(self.obs, Mapping) else self.obs
        return (_rebuild, (obs, self.acts, self.rews, self.terminated, dict(self.infos or {})))

    def __repr__(self) -> str:
        if isinstance(self.obs, Mapping):
            obs = "{" + ", ".join(f"{k!r}: {v.shape}" for k, v in self.obs.items()) + "}"
        else:
            obs = str(self.obs.shape)
        acts = None if self.acts is None else self.acts.shape
        rews = None if self.rews is None else self.rews.shape
        return (
            f"Trajectory(T={self.n_steps}, obs={obs}, acts={acts}, rews={rews}, "
            f"terminated={self.terminated}, infos={sorted(self.infos or {})})"
        )


def _rebuild(
    obs: np.ndarray | Mapping[str, np.ndarray],
    acts: np.ndarray | None,
    rews: np.ndarray | None,
    terminated: bool,
    infos: Mapping[str, np.ndarray],
) -> Trajectory:
    """Unpickle a :class:`Trajectory` (``terminated`` is keyword-only)."""
    return Trajectory(obs, acts, rews, terminated=terminated, infos=infos)


def require_actions(trajectories, func: str, why: str) -> list[Trajectory]:
    """Returns ``trajectories`` as a non-empty list of Trajectory that all carry actions.

    ``func`` names the caller in errors and ``why`` says why actions are needed there.
    """
    trajectories = list(trajectories)
    if not trajectories:
        raise ValueError(f"{func}: trajectories must hold at least one Trajectory; got none")
    for i, traj in enumerate(trajectories):
        if not isinstance(traj, Trajectory):
            raise ValueError(f"{func}: trajectories[{i}] must be a Trajectory; got {type(traj).__name__}")
        if traj.acts is None:
            raise ValueError(f"{func}: trajectories[{i}].acts is None; {why}")
    return trajectories


def state_action_pairs(trajectories, func: str, why: str) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(obs[t], acts[t])`` of ``trajectories`` (Box observations; all with actions, checked as
    :func:`require_actions`): observations ``[N, obs_dim]`` float32 and actions ``[N, ...]``."""
    trajs = require_actions(trajectories, func, why)
    obs = np.concatenate([np.asarray(t.observations(), np.float32)[:-1] for t in trajs])
    return obs, np.concatenate([np.asarray(t.acts) for t in trajs])
