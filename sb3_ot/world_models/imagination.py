"""Imagination environments: a fitted :class:`WorldModel` as an SB3 ``VecEnv`` / a Gymnasium env (DITTO).

* :class:`ImaginationStarts` -- expert episodes encoded once into latents ``[T_e+1, L]``; imagined episodes
  start at a random expert state with at least one step left, and rewards compare step ``k`` with the
  expert latent ``start_time + k``.
* :class:`ImaginationVecEnv` -- ``n_envs`` imagined episodes stepped by **one** batched model call per step
  (``next`` on all rows, ``terminated``, the reward); SB3 conventions for truncation, auto-reset and
  ``info["episode"]``.
* :class:`ImaginationEnv` -- the single-env ``gymnasium.Env`` view (passes SB3's ``check_env``), registered
  as ``"sb3_ot/Imagination-v0"`` (a saved model path, the starts, ``reward="ditto"``).
* :class:`LatentObservationWrapper` -- real observations -> latents, to deploy a policy trained on
  ``observation="latent"`` in the real env.

The reward is passed in (``reward=``): this module never imports :mod:`sb3_ot.rewards` (see DESIGN.md,
dependency rules); the registered id's ``reward="ditto"`` is a private inline formula.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from sb3_ot._args import check_choice, check_float, check_int
from sb3_ot.data.sources import as_trajectories
from sb3_ot.encoders.base import stack_observations
from sb3_ot.world_models.model import WorldModel

__all__ = [
    "ENV_ID",
    "ImaginationEnv",
    "ImaginationStarts",
    "ImaginationVecEnv",
    "LatentObservationWrapper",
    "Reward",
    "make_imagination_env",
]

ENV_ID = "sb3_ot/Imagination-v0"
OBSERVATIONS = ("latent", "decoded")
#: ``reward(z_next [n, L], actions [n, ...], episode [n] long, time [n] long) -> [n]``
Reward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], Any]


def _fitted(world_model: Any, func: str) -> WorldModel:
    if not isinstance(world_model, WorldModel):
        raise ValueError(f"{func}: world_model must be a WorldModel; got {type(world_model).__name__}")
    if world_model.nets is None:
        raise ValueError(f"{func}: world_model is not trained yet; call fit() or WorldModel.load() first")
    return world_model


# --------------------------------------------------------------------------- starts
@dataclass(frozen=True)
class ImaginationStarts:
    """Expert episodes as latents, where imagined episodes start (DITTO).

    Parameters
    ----------
    latents : sequence of Tensor ``[T_e+1, L]``
        One per episode, all on one device; episodes with ``T_e = 0`` are kept (indices stay those of
        the data) but never sampled.
    obs_dim : int or None
        Observation size the latents were encoded from (checked against the model's), if known.
    """

    latents: tuple[torch.Tensor, ...]
    obs_dim: int | None = None
    _flat: torch.Tensor = field(init=False, repr=False, compare=False)
    _offsets: torch.Tensor = field(init=False, repr=False, compare=False)
    _valid: tuple[torch.Tensor, torch.Tensor] = field(init=False, repr=False, compare=False)
    _lengths: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        func = "ImaginationStarts"
        lat = tuple(self.latents) if isinstance(self.latents, Sequence) else ()
        if not lat:
            raise ValueError(f"{func}: latents must hold at least one episode [T+1, L]; got none")
        for i, z in enumerate(lat):
            if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.dtype.is_floating_point:
                got = f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}"
                raise ValueError(f"{func}: latents[{i}] must be a float tensor [T+1, L]; got {got}")
            if z.shape[1] != lat[0].shape[1] or z.device != lat[0].device:
                raise ValueError(
                    f"{func}: latents[{i}] has size {z.shape[1]} on {z.device}; latents[0] has "
                    f"{lat[0].shape[1]} on {lat[0].device}"
                )
            if not torch.isfinite(z).all():
                raise ValueError(f"{func}: latents[{i}] must be finite; got NaN or inf")
        lengths = torch.tensor([len(z) - 1 for z in lat])  # T_e: steps in each episode
        if int(lengths.max()) < 1:
            raise ValueError(f"{func}: no episode has a step (every episode is a single observation)")
        offsets = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.long), lengths[:-1] + 1]), 0)
        episode = torch.repeat_interleave(torch.arange(len(lat)), lengths)  # one row per valid start
        time = torch.cat([torch.arange(int(t)) for t in lengths])
        object.__setattr__(self, "latents", lat)
        object.__setattr__(self, "_flat", torch.cat(lat).float())
        object.__setattr__(self, "_offsets", offsets.to(lat[0].device))
        object.__setattr__(self, "_valid", (episode, time))
        object.__setattr__(self, "_lengths", lengths.to(lat[0].device))

    @classmethod
    def from_trajectories(
        cls, world_model: WorldModel, trajectories: Any, *, obs_key: str | None = None
    ) -> ImaginationStarts:
        """Encode each episode's observations once with ``world_model``.

        ``trajectories``: a list of :class:`Trajectory` (or one), or a local Minari id / dataset folder.
        ``obs_key`` picks dict observations (default: the model's ``obs_key``, else ``"observation"``).
        """
        func = "ImaginationStarts.from_trajectories"
        wm = _fitted(world_model, func)
        obs = _observations(trajectories, obs_key or wm.obs_key, func, wm)
        if not wm.pixels and obs[0].shape[1] != wm.obs_dim:
            raise ValueError(
                f"{func}: trajectories have obs_dim {obs[0].shape[1]}; the world model has obs_dim "
                f"{wm.obs_dim} (starts must come from the env the model was fitted on)"
            )
        return cls(tuple(wm.encode(torch.tensor(o, device=wm.device)) for o in obs), obs_dim=wm.obs_dim)

    @property
    def latent_dim(self) -> int:
        return int(self.latents[0].shape[1])

    @property
    def device(self) -> torch.device:
        return self.latents[0].device

    def __len__(self) -> int:
        return len(self.latents)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` starts drawn uniformly over all expert states with at least one step left (``time < T_e``;
        longer episodes give more starts): ``(episode [n] long, time [n] long)`` on :attr:`device`."""
        n = check_int(n, "n", "ImaginationStarts.sample")
        episode, time = self._valid
        pick = torch.randint(len(episode), (n,), generator=generator)
        return episode[pick].to(self.device), time[pick].to(self.device)

    def lengths(self, episode: torch.Tensor) -> torch.Tensor:
        """``T_e [n]`` of the episodes ``episode [n]``."""
        return self._lengths[episode]

    def expert_latents(self, episode: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """Expert latents ``latents[episode[i]][time[i]]``: ``[n, L]`` (one gather, no Python loop)."""
        return self._flat[self._offsets[episode] + time]


def _observations(
    data: Any, obs_key: str | None, func: str, wm: WorldModel | None = None
) -> list[np.ndarray]:
    """Each episode's flat float32 observations ``[T+1, obs_dim]`` (:func:`as_trajectories` and
    :func:`stack_observations` name what is wrong with bad data); with ``wm``, as that model takes them
    (a pixel model's uint8 frames ``[T+1, C, 64, 64]``)."""
    if isinstance(data, Sequence) and not isinstance(data, str) and len(data) == 0:
        raise ValueError(f"{func}: trajectories must hold at least one episode; got none")
    trajs = as_trajectories(data, func=func)
    return stack_observations(trajs, obs_key, func) if wm is None else wm.observation_arrays(trajs, func)


# --------------------------------------------------------------------------- the vec env
def _spaces(
    wm: WorldModel, observation: str, action_space: spaces.Space | None, func: str
) -> tuple[spaces.Box, spaces.Space]:
    """Observation space (latent or decoded, unbounded float32) and the checked action space."""
    if observation == "decoded" and wm.pixels:
        raise ValueError(
            f"{func}: observation='decoded' is for state models; a pixel model's policy acts on latents "
            f"(observation='latent', deployed through LatentObservationWrapper on the pixel env)"
        )
    size = wm.config.latent_dim if observation == "latent" else wm.obs_dim
    obs_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
    n = int(wm.act_dim)
    if wm.act_kind == "discrete":
        space = spaces.Discrete(n) if action_space is None else action_space
        if not isinstance(space, spaces.Discrete) or int(space.start) != 0 or not 1 <= int(space.n) <= n:
            raise ValueError(
                f"{func}: action_space must be Discrete(m) with m <= {n} (the model's); got {space}"
            )
        return obs_space, space
    # the model stores no action bounds; [-1, 1] is SB3's normalised convention (pass the env's own space)
    space = spaces.Box(-1.0, 1.0, (n,), np.float32) if action_space is None else action_space
    if not isinstance(space, spaces.Box) or math.prod(space.shape) != n:
        raise ValueError(
            f"{func}: action_space must be a Box of {n} values (the model's act_dim); got {space}"
        )
    return obs_space, space


class ImaginationVecEnv(VecEnv):
    """``n_envs`` imagined episodes in a fitted :class:`WorldModel`, stepped in one batched torch call.

    Parameters
    ----------
    world_model : WorldModel
        A fitted model (Box or Discrete actions).
    starts : ImaginationStarts
        Expert latents; each episode starts at ``(episode, start_time)`` from :meth:`ImaginationStarts.sample`.
    reward : callable or None
        ``reward(z_next [n, L], actions [n, ...], episode [n] long, time [n] long) -> [n]`` (tensor or
        array), called once per step on all envs. ``actions`` are the (clipped) actions the model was
        stepped with: Box ``[n, act_dim]`` float, Discrete ``[n]`` long; ``episode`` indexes ``starts``;
        ``time = start_time + k`` is the expert latent that imagined step ``k`` (1-based) compares with.
        ``None``: reward 0, for a wrapper that supplies the rewards (e.g. ``OTRewardVecEnvWrapper`` on
        latents: OT rewards at each imagined episode's end). A reward with ``needs_state = True`` (e.g.
        :class:`~sb3_ot.rewards.AdversarialRewarder`, a discriminator on ``(z_t, a_t)``) also gets the
        latents before the step as the keyword ``z``.
    n_envs, horizon : int
        Number of envs; steps per imagined episode (DITTO: 15).
    observation : "latent" or "decoded"
        The policy sees ``z [L]``, or the model's decoding ``[obs_dim]`` (acts on the real env unchanged).
    action_space : gymnasium.spaces.Space or None
        Default ``Box(-1, 1, (act_dim,))`` (the model stores no bounds: pass the real env's Box) or
        ``Discrete(n)``. Box actions are clipped into it.
    termination_threshold : float in [0, 1]
        An episode ends (terminated, no bootstrap) when ``terminated(z_next) > termination_threshold``.
    head : "random", "mean" or int
        Ensemble head(s) for ``world_model.next`` ("random": one head per row and step, as MBPO).
    uncertainty_penalty : float >= 0
        ``lambda``: every reward becomes ``r - lambda * world_model.uncertainty(z_t, a_t)`` (the heads'
        disagreement on the step taken; MOPO's and CMIL's penalty, CMIL's lambda is 10). It keeps the
        policy where the model is sure, against exploiting model error.
    seed : int
        Seeds the starts and the head choices (one torch generator); :meth:`seed` reseeds at the next reset.

    An episode lasts ``min(horizon, T_e - start_time)`` steps, so every step has an expert latent to be
    compared with; reaching it is a truncation (``info["TimeLimit.truncated"]``, ``"terminal_observation"``,
    so PPO bootstraps). Ended envs reset at once (SB3 convention). Every ``info`` holds the episode's
    ``"episode_index"`` and ``"start_time"``; the last step's also ``"episode": {"r", "l"}`` (Monitor's).
    """

    def __init__(
        self,
        world_model: WorldModel,
        starts: ImaginationStarts,
        reward: Reward | None,
        n_envs: int = 1,
        horizon: int = 15,
        observation: str = "latent",
        *,
        action_space: spaces.Space | None = None,
        termination_threshold: float = 0.5,
        head: str | int = "random",
        uncertainty_penalty: float = 0.0,
        seed: int = 0,
    ) -> None:
        func = "ImaginationVecEnv"
        self.world_model = wm = _fitted(world_model, func)
        self.starts = _check_starts(starts, wm, func)
        if reward is not None and not callable(reward):
            raise ValueError(
                f"{func}: reward must be callable (z_next, actions, episode, time) or None; got {reward!r}"
            )
        self.reward = reward
        n_envs = check_int(n_envs, "n_envs", func)
        self.horizon = check_int(horizon, "horizon", func)
        self.observation = check_choice(observation, "observation", func, OBSERVATIONS)
        self.termination_threshold = check_float(
            termination_threshold, "termination_threshold", func, low=0.0, high=1.0, low_open=False
        )
        # fails now, naming head, if bad (a throwaway generator: the global torch RNG stays untouched)
        wm.next(starts.latents[0][:1], _zero_action(wm), head=head, generator=torch.Generator())
        self.head = head
        self.uncertainty_penalty = check_float(
            uncertainty_penalty, "uncertainty_penalty", func, low=0.0, low_open=False
        )
        self.render_mode = None  # read by VecEnv.__init__ through get_attr
        obs_space, act_space = _spaces(wm, observation, action_space, func)
        super().__init__(n_envs, obs_space, act_space)
        self._generator = torch.Generator()
        self._actions: np.ndarray | None = None
        # the state exists from here on; the seed applies again at the first reset(), so that reset's
        # starts are the same as after seed(seed) + reset() (SB3 calls reset() before training)
        self.seed(check_int(seed, "seed", func, minimum=0))
        self.reset()
        self.seed(seed)

    # ------------------------------------------------------------------ episodes
    def _start(self, rows: torch.Tensor) -> None:
        """Draw new starts for the env indices ``rows`` and reset their counters."""
        episode, time = self.starts.sample(len(rows), self._generator)
        self._episode[rows], self._start_time[rows] = episode, time
        self._z[rows] = self.starts.expert_latents(episode, time)
        self._limit[rows] = torch.clamp(self.starts.lengths(episode) - time, max=self.horizon)
        self._k[rows] = 0
        idx = rows.cpu().numpy()
        self._returns[idx], self._lengths[idx] = 0.0, 0
        for i, e, t in zip(idx.tolist(), episode.tolist(), time.tolist(), strict=True):
            self.reset_infos[i] = {"episode_index": e, "start_time": t}

    def _observe(self, z: torch.Tensor) -> np.ndarray:
        """The policy's observations ``[n, L]`` or ``[n, obs_dim]`` as float32 numpy."""
        x = z if self.observation == "latent" else self.world_model.decode(z)
        return x.detach().to("cpu", torch.float32).numpy()

    def reset(self) -> np.ndarray:
        """New starts for all envs (a seed given to :meth:`seed` applies here); observations ``[n, ...]``."""
        if self._seeds[0] is not None:
            self._generator.manual_seed(int(self._seeds[0]))
            self._seeds = [None] * self.num_envs
        n, dev = self.num_envs, self.starts.device
        self._z = torch.zeros(n, self.starts.latent_dim, device=dev)
        self._episode = torch.zeros(n, dtype=torch.long, device=dev)
        self._start_time, self._limit, self._k = (torch.zeros_like(self._episode) for _ in range(3))
        self._returns, self._lengths = np.zeros(n), np.zeros(n, np.int64)
        self._start(torch.arange(n, device=dev))
        return self._observe(self._z)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Reseed the starts and head choices at the next :meth:`reset` (one generator for all envs)."""
        return super().seed(seed)

    # ------------------------------------------------------------------ stepping
    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def _model_actions(self, actions: Any) -> torch.Tensor:
        """Checked actions as the model's input: Box ``[n, act_dim]`` float32 (clipped), Discrete ``[n]`` long."""
        func, n, space = "ImaginationVecEnv.step", self.num_envs, self.action_space
        a = np.asarray(actions)
        if isinstance(space, spaces.Discrete):
            a = a.reshape(n) if a.shape == (n, 1) else a
            if a.shape != (n,) or not (np.issubdtype(a.dtype, np.integer) or (a == np.round(a)).all()):
                raise ValueError(f"{func}: actions must be {n} integers (Discrete); got {a.dtype}{a.shape}")
            bad = np.flatnonzero((a < 0) | (a >= space.n))
            if len(bad):
                i = int(bad[0])
                raise ValueError(f"{func}: actions[{i}] = {a[i]} (env {i}) is outside Discrete({space.n})")
            return torch.as_tensor(a.astype(np.int64), device=self.world_model.device)
        assert isinstance(space, spaces.Box)
        if a.shape != (n, *space.shape):
            raise ValueError(f"{func}: actions must have shape {(n, *space.shape)}; got {a.shape}")
        if not np.isfinite(a).all():
            bad = int(np.flatnonzero(~np.isfinite(a.reshape(n, -1)).all(1))[0])
            raise ValueError(f"{func}: actions[{bad}] (env {bad}) must be finite; got {a[bad]}")
        a = np.clip(a, space.low, space.high).astype(np.float32).reshape(n, -1)
        return torch.as_tensor(a, device=self.world_model.device)

    @torch.no_grad()
    def step_wait(self) -> VecEnvStepReturn:
        """One batched model step for all envs; ended envs are reset (their obs is the new episode's)."""
        if self._actions is None:
            raise ValueError("ImaginationVecEnv.step_wait: call step_async(actions) first")
        a, self._actions = self._model_actions(self._actions), None
        wm = self.world_model
        z_next = wm.next(self._z, a, head=self.head, generator=self._generator)
        self._k += 1
        time = self._start_time + self._k
        rew = self._reward(z_next, a, time)
        if self.uncertainty_penalty:  # MOPO / CMIL: r - lambda * u(z_t, a_t)
            rew -= self.uncertainty_penalty * wm.uncertainty(self._z, a).float().cpu().numpy()
        terminated = wm.terminated(z_next) > self.termination_threshold
        truncated = (self._k >= self._limit) & ~terminated
        done_t = terminated | truncated
        obs = self._observe(z_next)
        # one device->host copy for the per-env bookkeeping
        done, trunc = (x.cpu().numpy() for x in (done_t, truncated))
        episode, start = self._episode.tolist(), self._start_time.tolist()
        self._returns += rew
        self._lengths += 1
        infos: list[dict[str, Any]] = [
            {"episode_index": e, "start_time": t} for e, t in zip(episode, start, strict=True)
        ]
        self._z = z_next
        if done.any():
            for i in np.flatnonzero(done).tolist():
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(trunc[i])
                infos[i]["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i])}
            self._start(torch.as_tensor(np.flatnonzero(done), device=self._z.device))
            obs[done] = self._observe(self._z[torch.as_tensor(done, device=self._z.device)])
        return obs, rew, done.copy(), infos

    def _reward(self, z_next: torch.Tensor, a: torch.Tensor, time: torch.Tensor) -> np.ndarray:
        """The reward callable on all rows, checked: ``[n]`` finite, as float32 numpy."""
        if self.reward is None:
            return np.zeros(self.num_envs, np.float32)
        if getattr(self.reward, "needs_state", False):  # e.g. a discriminator on (z_t, a_t)
            r = self.reward(z_next, a, self._episode, time, z=self._z)
        else:
            r = self.reward(z_next, a, self._episode, time)
        r = r.detach().to("cpu") if isinstance(r, torch.Tensor) else torch.as_tensor(np.asarray(r))
        if tuple(r.shape) != (self.num_envs,):
            raise ValueError(
                f"ImaginationVecEnv.step: reward must return shape [{self.num_envs}] (one per env); "
                f"got {list(r.shape)}"
            )
        out = r.numpy().astype(np.float32)
        if not np.isfinite(out).all():
            raise ValueError("ImaginationVecEnv.step: reward returned NaN or inf")
        return out

    # ------------------------------------------------------------------ VecEnv plumbing
    def close(self) -> None:
        """Nothing to release (no sub-processes, no windows)."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The envs share this object: its attribute, once per index."""
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets the attribute on this object (shared by all envs)."""
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kw: Any
    ) -> list[Any]:
        """Calls the method of this object once (the envs share it) and repeats its result per index."""
        result = getattr(self, method_name)(*method_args, **kw)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def _zero_action(wm: WorldModel) -> torch.Tensor:
    if wm.act_kind == "discrete":
        return torch.zeros(1, dtype=torch.long, device=wm.device)
    return torch.zeros(1, wm.act_dim, device=wm.device)


def _check_starts(starts: Any, wm: WorldModel, func: str) -> ImaginationStarts:
    if not isinstance(starts, ImaginationStarts):
        raise ValueError(
            f"{func}: starts must be ImaginationStarts (ImaginationStarts.from_trajectories(world_model, "
            f"expert)); got {type(starts).__name__}"
        )
    if starts.latent_dim != wm.config.latent_dim:
        raise ValueError(
            f"{func}: starts have latent size {starts.latent_dim}; the world model's latent_dim is "
            f"{wm.config.latent_dim} (encode the starts with this model)"
        )
    if starts.obs_dim is not None and starts.obs_dim != wm.obs_dim:
        raise ValueError(
            f"{func}: starts come from obs_dim {starts.obs_dim}; the world model has {wm.obs_dim}"
        )
    if starts.device != wm.device:
        raise ValueError(f"{func}: starts are on {starts.device}; the world model on {wm.device}")
    return starts


# --------------------------------------------------------------------------- the single env
class ImaginationEnv(gym.Env):
    """One imagined episode at a time: the ``gymnasium.Env`` view of :class:`ImaginationVecEnv` (``n_envs=1``).

    Same arguments as :class:`ImaginationVecEnv` (``seed=None``: a random seed; ``reset(seed=...)``
    reseeds). ``step`` returns the episode's last observation when it ends (no auto-reset):
    ``terminated`` for a predicted termination, ``truncated`` at ``min(horizon, T_e - start_time)`` steps.
    ``info`` holds ``"episode_index"`` and ``"start_time"``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        world_model: WorldModel,
        starts: ImaginationStarts,
        reward: Reward,
        horizon: int = 15,
        observation: str = "latent",
        *,
        action_space: spaces.Space | None = None,
        termination_threshold: float = 0.5,
        head: str | int = "random",
        uncertainty_penalty: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.venv = ImaginationVecEnv(
            world_model, starts, reward, 1, horizon, observation,
            action_space=action_space, termination_threshold=termination_threshold, head=head,
            uncertainty_penalty=uncertainty_penalty, seed=seed,
        )  # fmt: skip
        self.observation_space = self.venv.observation_space
        self.action_space = self.venv.action_space
        self.render_mode = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.venv.seed(seed)
        obs = self.venv.reset()
        return obs[0], dict(self.venv.reset_infos[0])

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, rew, done, infos = self.venv.step(np.asarray(action)[None])
        info = infos[0]
        if not done[0]:
            return obs[0], float(rew[0]), False, False, info
        # the vec env has already started the next episode; hand back this one's last observation
        last = info.pop("terminal_observation")
        truncated = bool(info.pop("TimeLimit.truncated"))
        return last, float(rew[0]), not truncated, truncated, info


# --------------------------------------------------------------------------- deployment
class LatentObservationWrapper(gym.ObservationWrapper):
    """Real observations -> ``world_model.encode(obs)`` latents ``[L]`` (float32), so a policy trained on
    ``observation="latent"`` acts in the real env (DITTO's deployment filter, deterministic model).

    ``obs_key`` picks dict observations (default: the model's ``obs_key``, else ``"observation"``).
    """

    def __init__(self, env: gym.Env, world_model: WorldModel, obs_key: str | None = None) -> None:
        func = "LatentObservationWrapper"
        super().__init__(env)
        self.world_model = wm = _fitted(world_model, func)
        space = env.observation_space
        self.obs_key = (obs_key or wm.obs_key or "observation") if isinstance(space, spaces.Dict) else None
        if self.obs_key is not None:
            if self.obs_key not in space.spaces:
                raise ValueError(
                    f"{func}: obs_key {self.obs_key!r} is not in the env's dict observations {list(space.spaces)}"
                )
            space = space[self.obs_key]
        if wm.pixels and (not isinstance(space, spaces.Box) or space.shape != wm.obs_shape):
            raise ValueError(
                f"{func}: the env's observations {space} are not the frames {wm.obs_shape} the pixel model "
                f"takes (wrap the env in PixelObservationWrapper with frame_stack={wm.obs_shape[0]})"
            )
        if not wm.pixels and (not isinstance(space, spaces.Box) or math.prod(space.shape) != wm.obs_dim):
            raise ValueError(
                f"{func}: the env's observations {space} are not flat Boxes of {wm.obs_dim} values (the model's obs_dim)"
            )
        self.observation_space = spaces.Box(-np.inf, np.inf, (wm.config.latent_dim,), np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        obs = observation[self.obs_key] if self.obs_key is not None else observation
        if self.world_model.pixels:  # uint8 frames as they come
            return np.asarray(self.world_model.encode(np.asarray(obs)), np.float32)
        flat = np.asarray(obs, np.float32).reshape(-1)
        return np.asarray(self.world_model.encode(flat), np.float32)


# --------------------------------------------------------------------------- the registered id
def _ditto_reward(starts: ImaginationStarts) -> Reward:
    """DITTO's latent reward ``<z, zE> / max(|z|, |zE|)^2`` against ``starts``' expert latent at ``time``
    (a private copy for the registered id: world_models never imports sb3_ot.rewards)."""

    def reward(
        z: torch.Tensor, actions: torch.Tensor, episode: torch.Tensor, time: torch.Tensor
    ) -> torch.Tensor:
        ze = starts.expert_latents(episode, time)
        scale = torch.maximum(z.norm(dim=-1), ze.norm(dim=-1)).pow(2).clamp_min(1e-12)
        return (z * ze).sum(-1) / scale

    return reward


def make_imagination_env(
    model_path: str | os.PathLike[str],
    starts: Any,
    reward: str | Reward = "ditto",
    *,
    env_id: str | None = None,
    obs_key: str | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> ImaginationEnv:
    """The ``"sb3_ot/Imagination-v0"`` entry point: :meth:`WorldModel.load` ``model_path``, encode ``starts``
    (a local Minari id, a dataset folder or trajectories), and build an :class:`ImaginationEnv` with
    ``reward`` (``"ditto"`` or a callable). ``env_id`` names the real env whose action space the
    imagined one takes (what a YAML file can say instead of ``action_space=``); ``kwargs`` go to
    :class:`ImaginationEnv`."""
    wm = WorldModel.load(model_path, device=device)
    s = ImaginationStarts.from_trajectories(wm, starts, obs_key=obs_key)
    if isinstance(reward, str):
        check_choice(reward, "reward", ENV_ID, ("ditto",))
        reward = _ditto_reward(s)
    if env_id is not None:
        if "action_space" in kwargs:
            raise ValueError(f"{ENV_ID}: give env_id or action_space, not both")
        real = gym.make(env_id)
        kwargs["action_space"] = real.action_space
        real.close()
    return ImaginationEnv(wm, s, reward, **kwargs)


def _register_id() -> None:
    from sb3_ot.world_models import _register

    _register()


_register_id()
