"""The second main job: imitate inside a learned world model, with no env interaction while learning.

DITTO (DeMoss et al.): fit a :class:`~sb3_ot.world_models.WorldModel` on all the offline data (the dataset
and the demonstrations), then train SB3 PPO only in imagination -- each imagined episode starts at an
expert latent, lasts ``horizon`` steps, and is rewarded for staying close to the expert's latents at
the same time offsets (:class:`~sb3_ot.rewards.LatentRewarder`). OT in imagination replaces that reward
by AILOT's or OTR's, computed on each imagined episode at its end against the expert's latent episodes.
Baselines on the same demonstrations: BC (on observations) and D-BC (on the model's expert latents).
Every policy is evaluated in the real env (latent policies through
:class:`~sb3_ot.world_models.LatentObservationWrapper`); one table, PNGs of the learning curves and of
the model's open-loop rollout against the real one, ``results.json`` and optional wandb (offline).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from sb3_ot._args import check_choice, check_device, check_float, check_int, check_seeds, check_widths
from sb3_ot._files import atomic_write, write_text
from sb3_ot._pipeline import Curve, finish_wandb, plot_curves, print_table, score_rows, start_wandb
from sb3_ot.data import Trajectory, to_d3rlpy
from sb3_ot.data.envs import make_env
from sb3_ot.data.pixels import make_pixel_env, render_pixel_trajectories
from sb3_ot.data.rollouts import episode_returns, sb3_policy
from sb3_ot.data.scores import normalized_score
from sb3_ot.datasets.demos import DatasetWithDemos, load_with_demos
from sb3_ot.datasets.kinds import KINDS
from sb3_ot.encoders import IdentityEncoder
from sb3_ot.integrations.d3rlpy import d3rlpy_device, make_algo, train_offline
from sb3_ot.rewards import AdversarialRewarder, AILOTRewarder, LatentRewarder, OTRRewarder
from sb3_ot.world_models import ImaginationStarts, ImaginationVecEnv, LatentObservationWrapper, WorldModel
from sb3_ot.wrappers import AdversarialRewardCallback, BCTermCallback, OTRewardCallback, OTRewardVecEnvWrapper

__all__ = ["ENV_PRESETS", "DreamConfig", "preset", "run_dream"]

REWARDS = ("ditto", "ailot", "otr", "cmil", "gail")
METHODS = {
    "ditto": "PPO + DITTO", "ailot": "PPO + AILOT (latent)", "otr": "PPO + OTR (latent)",
    "cmil": "PPO + CMIL", "gail": "PPO + D-GAIL",
}  # fmt: skip
#: Each reward's own (uncertainty penalty, BC term, starts) when the config leaves them None: CMIL's are
#: its code's (lambda 10, BC x 10, imagination from the dataset's states); DITTO and D-GAIL start at
#: expert states; the OT rewards take no penalty nor BC term (their wrapper replaces the env's rewards).
METHOD_DEFAULTS = {
    "ditto": (0.0, 0.0, "expert"),
    "ailot": (0.0, 0.0, "expert"),
    "otr": (0.0, 0.0, "expert"),
    "cmil": (10.0, 10.0, "data"),
    "gail": (0.0, 0.0, "expert"),
}
STARTS = ("expert", "data")
ADVERSARIAL = ("cmil", "gail")
BASELINES = ("BC (expert demos)", "D-BC (expert latents)")
BC_PRETRAIN = 100  # CMIL's pure BC steps before the actor-critic starts (with bc_coef > 0)


@dataclass(frozen=True)
class DreamConfig:
    """Settings of ``sb3-ot dream`` (the defaults are the embedded default run).

    Every value is checked on construction, before any data is built or any model trained.

    ``dataset`` is the kind of offline data the world model learns from (with the demonstrations);
    ``experts`` the number of expert demonstrations (starts, rewards, and BC's data). The world model's
    sizes are ``latent_dim``, ``wm_hidden``, ``n_heads`` (trained ``wm_updates`` updates, batch
    ``wm_batch``, ``wm_lr``, latent-consistency weight ``wm_consistency``, inverse-dynamics weight
    ``wm_inverse``); PPO runs ``ppo_steps``
    imagined steps over ``n_envs`` envs of ``horizon`` steps, discount ``gamma`` (DITTO: 15 steps, 0.95), evaluated in the real env every ``eval_every``;
    ``penalty`` > 0 subtracts ``penalty * uncertainty`` from every imagined reward (CMIL's lambda, 10);
    ``bc_coef`` > 0 adds CMIL's behaviour-cloning term on the expert latents to PPO's updates
    (:class:`~sb3_ot.wrappers.BCTermCallback`, after ``BC_PRETRAIN`` pure BC steps; CMIL: 10). Left
    ``None``, each reward takes its own (:data:`METHOD_DEFAULTS`: CMIL 10 and 10, the others 0).
    ``starts``: where imagined episodes start, ``"expert"`` states (DITTO) or the ``"data"`` set's
    (CMIL); ``None``: each reward's own.
    ``cmil`` rewards ``D(z, a)`` (a discriminator trained while PPO learns), ``gail`` ``-log(1 - D)``.
    BC and D-BC train ``bc_steps`` updates (d3rlpy BC).
    ``pixels``: everything learns and acts from the env's own frames instead of its states: the data are
    re-rendered from their states (:func:`~sb3_ot.data.render_pixel_trajectories`: 64 x 64 grayscale,
    ``frame_stack`` frames stacked), the world model gets CNNs ``cnn_depth`` wide, BC a CNN (d3rlpy's),
    and every policy is scored in the real env through
    :class:`~sb3_ot.data.PixelObservationWrapper` (latent policies: the model encodes the frames).
    """

    env: str = "Pendulum-v1"
    dataset: str = "random"
    experts: int = 10
    rewards: tuple[str, ...] = ("ditto",)
    seeds: tuple[int, ...] = (0,)
    dataset_steps: int | None = None
    expert_steps: int | None = 8000  # Pendulum's SAC is at -110 by step 6000 (20,000 is the env default)
    latent_dim: int = 32
    wm_hidden: tuple[int, ...] = (128, 128)
    n_heads: int = 5
    wm_updates: int = 2000
    wm_batch: int = 128
    wm_lr: float = 1e-3
    wm_consistency: float = 20.0  # PIXEL_PRESET: 200
    wm_inverse: float = 0.0  # WorldModelConfig.inverse; PIXEL_PRESET: 10
    ppo_steps: int = 200_000
    n_envs: int = 64
    horizon: int = 15
    gamma: float = 0.95
    penalty: float | None = None
    bc_coef: float | None = None
    starts: str | None = None
    eval_every: int = 50_000
    bc_steps: int = 2000
    n_eval_episodes: int = 10
    out_dir: str = "sb3_ot_dream"
    device: str | None = None  # world model, imagination and PPO; None: the CPU
    wandb: bool = False
    progress: bool = True
    data_path: str | None = None
    world_model: str | None = None  # a saved WorldModel to use instead of fitting one
    pixels: bool = False
    frame_stack: int = 3
    cnn_depth: int = 16  # DreamerV2 / CMIL: 48; 16 fits a 2-core CPU (docs/world_models.md, "Pixels")

    def __post_init__(self) -> None:
        func = "DreamConfig"
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"{func}: env must be a Gymnasium env id; got {self.env!r}")
        check_choice(self.dataset, "dataset", func, KINDS)
        ints = ("experts", "latent_dim", "n_heads", "wm_updates", "wm_batch", "ppo_steps", "n_envs")
        more = ("horizon", "eval_every", "bc_steps", "n_eval_episodes", "frame_stack", "cnn_depth")
        for name in (*ints, *more):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        for name in ("dataset_steps", "expert_steps"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        if self.latent_dim < 2:
            raise ValueError(
                f"{func}: latent_dim must be >= 2 (latents are layer-normalised); got {self.latent_dim}"
            )
        check_float(self.wm_lr, "wm_lr", func)
        check_float(self.wm_consistency, "wm_consistency", func)
        check_float(self.wm_inverse, "wm_inverse", func, low=0.0, low_open=False)
        check_float(self.gamma, "gamma", func, low=0.0, high=1.0)
        for name in ("penalty", "bc_coef"):
            if getattr(self, name) is not None:
                check_float(getattr(self, name), name, func, low=0.0, low_open=False)
        object.__setattr__(self, "rewards", _names(self.rewards, "rewards", func, REWARDS, allow_empty=True))
        if self.starts is not None:
            check_choice(self.starts, "starts", func, STARTS)
            if self.starts == "data" and "ditto" in self.rewards:
                raise ValueError(
                    f"{func}: starts='data' cannot pay the ditto reward (it compares each imagined step with "
                    f"the expert's latent at the same offset from an expert start); got rewards {list(self.rewards)}"
                )
        if self.penalty and set(self.rewards) & {"ailot", "otr"}:  # after _names: a str is one reward
            raise ValueError(
                f"{func}: penalty applies to the per-step rewards only (ditto, cmil, gail; the OT wrappers "
                f"replace the env's rewards); got penalty={self.penalty} with rewards {list(self.rewards)}"
            )
        seeds = check_seeds(self.seeds, func)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "wm_hidden", check_widths(self.wm_hidden, "wm_hidden", func))
        check_device(self.device, func)
        if not isinstance(self.pixels, bool):
            raise ValueError(f"{func}: pixels must be True or False; got {self.pixels!r}")
        if self.pixels:
            _check_pixel_env(self.env, func)
        if self.world_model is not None and not Path(self.world_model).is_file():
            raise ValueError(
                f"{func}: world_model must be a saved WorldModel file; {self.world_model!r} does not exist"
            )


#: Per-env settings of ``sb3-ot dream ENV`` (the embedded default is Pendulum-v1's); measured in
#: docs/benchmarks.md ("Imitation in a world model"). Other envs get the defaults.
ENV_PRESETS: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {},
    # medium + expert data covers the expert's states (DITTO still far below BC here: docs/world_models.md)
    "HalfCheetah-v5": {
        "dataset": "medium-expert", "experts": 5, "wm_updates": 8000, "ppo_steps": 1_000_000, "eval_every": 250_000,
    },
    "InvertedDoublePendulum-v5": {
        "dataset": "medium-replay", "experts": 5, "wm_updates": 3000, "ppo_steps": 500_000, "eval_every": 100_000,
    },
}  # fmt: skip


#: What ``--pixels`` changes on top of the env's preset: CNN training costs ~0.2 s per update of 32
#: windows on 2 cores, so the model gets smaller batches; the summed reconstruction of a frame needs a
#: 10x consistency weight, and the latent an inverse-dynamics term to answer to the action (measured:
#: docs/world_models.md, "Pixels").
PIXEL_PRESET: dict[str, Any] = {
    "pixels": True, "wm_batch": 32, "wm_updates": 4000, "wm_consistency": 200.0, "wm_inverse": 10.0,
}  # fmt: skip


def preset(env: str, pixels: bool = False) -> dict[str, Any]:
    """The :class:`DreamConfig` keyword arguments of ``env``: its :data:`ENV_PRESETS` entry and the env
    (another env than the default's trains its expert for the env's own budget, not the default's);
    ``pixels``: with :data:`PIXEL_PRESET` on top."""
    base = {} if env == DreamConfig.env else {"expert_steps": None}
    return {**base, **ENV_PRESETS.get(env, {}), **(PIXEL_PRESET if pixels else {}), "env": env}


def _check_pixel_env(env: str, func: str) -> None:
    """Pixel runs re-render the datasets from their states: only envs whose state sb3-ot can set."""
    from sb3_ot.data.pixels import _STATE_SETTERS

    if env not in _STATE_SETTERS:
        raise ValueError(
            f"{func}: pixels=True needs an env whose frames sb3-ot can render from stored states "
            f"({sorted(_STATE_SETTERS)}); got {env!r}"
        )


def _names(
    values: Any, name: str, func: str, choices: Sequence[str], *, allow_empty: bool
) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else tuple(values)
    if not items and not allow_empty:
        raise ValueError(f"{func}: {name} must name at least one of {list(choices)}; got ()")
    return tuple(dict.fromkeys(check_choice(v, name, func, tuple(choices)) for v in items))


# --------------------------------------------------------------------------- stages
def _load_data(cfg: DreamConfig, echo: Callable[[str], None]) -> DatasetWithDemos:
    """The dataset the world model learns from and the first ``experts`` expert episodes."""
    data = load_with_demos(
        cfg.env, cfg.dataset, cfg.experts, steps=cfg.dataset_steps, expert_steps=cfg.expert_steps,
        pick="first", data_path=cfg.data_path, progress=cfg.progress,
    )  # fmt: skip
    echo(data.describe(cfg.env, cfg.dataset))
    if not cfg.pixels:
        return data
    t0 = time.perf_counter()
    render = functools.partial(
        render_pixel_trajectories, env_id=cfg.env, frame_stack=cfg.frame_stack, progress=cfg.progress
    )
    data = DatasetWithDemos(render(data.trajs), render(data.demos_with_actions), data.ref)
    shape = data.trajs[0].obs.shape[1:]
    echo(f"rendered every episode as {shape} uint8 frames in {time.perf_counter() - t0:.0f} s")
    return data


def _fit_world_model(cfg: DreamConfig, data: DatasetWithDemos, out: Path, echo: Callable[[str], None]) -> Any:
    """The world model on all the data (dataset and demonstrations, as DITTO), saved to ``out``; or the
    saved one ``cfg.world_model`` names, checked against the env's observations and actions."""
    if cfg.world_model is not None:
        wm = WorldModel.load(cfg.world_model, device=cfg.device)
        shape, act = data.demos_with_actions[0].obs.shape[1:], np.asarray(data.demos_with_actions[0].acts)
        if wm.obs_shape != shape or (
            wm.act_kind == "box" and wm.act_size != act.reshape(len(act), -1).shape[1]
        ):
            raise ValueError(
                f"DreamConfig: world_model {cfg.world_model!r} takes observations {wm.obs_shape} and "
                f"{wm.act_kind} actions of size {wm.act_size}; {cfg.env}'s demos have observations {shape} "
                f"and actions {act.shape[1:]}"
            )
        errors = wm.prediction_error(data.demos_with_actions, ks=(1, 5, cfg.horizon))
        echo(f"world model: loaded {cfg.world_model}; MSE per dim on the demos {_errors_text(errors)}")
        return wm
    t0 = time.perf_counter()
    wm = WorldModel(
        seed=cfg.seeds[0], device=cfg.device, latent_dim=cfg.latent_dim, hidden=cfg.wm_hidden,
        n_heads=cfg.n_heads, batch_size=cfg.wm_batch, lr=cfg.wm_lr, cnn_depth=cfg.cnn_depth,
        consistency=cfg.wm_consistency, inverse=cfg.wm_inverse,
    ).fit(data.trajs + data.demos_with_actions, n_updates=cfg.wm_updates, progress=cfg.progress)  # fmt: skip
    seconds = time.perf_counter() - t0
    wm.save(out / "world_model.pt")
    errors = wm.prediction_error(ks=(1, 5, cfg.horizon))
    echo(
        f"world model: {cfg.wm_updates} updates in {seconds:.0f} s; held-out MSE per dim {_errors_text(errors)}"
    )
    return wm


def _errors_text(errors: dict[int, dict[str, float]]) -> str:
    return ", ".join(
        f"k={k}: {e['model']:.3g} (repeat last obs {e['repeat_last']:.3g})" for k, e in errors.items()
    )


def _expert_latents(wm: Any, data: DatasetWithDemos) -> list[Any]:
    """The demonstrations' latent episodes, observations only (what OT in imagination compares with)."""
    return [
        Trajectory(t.obs, None, None, terminated=t.terminated) for t in wm.latent_trajectories(data.demos)
    ]


def _imagination(
    cfg: DreamConfig, wm: Any, starts: Any, reward: str, seed: int, data: DatasetWithDemos,
    latent_demos: list[Trajectory],
) -> Any:  # fmt: skip
    """The imagined envs PPO trains in: DITTO's or the discriminator's per-step reward, or OT rewards at
    each episode's end (an :class:`~sb3_ot.wrappers.OTRewardVecEnvWrapper` on latents; its callback
    writes them in)."""
    real = make_env(cfg.env)
    space = real.action_space
    real.close()
    per_step: Any = None  # OT: the wrapper's
    if reward == "ditto":
        per_step = LatentRewarder(starts.latents)
    elif reward in ADVERSARIAL:
        n_actions = int(space.n) if isinstance(space, spaces.Discrete) else None
        form = "prob" if reward == "cmil" else "gail"
        per_step = AdversarialRewarder(
            latent_demos, n_actions=n_actions, form=form, seed=seed, device=cfg.device
        )
    venv = ImaginationVecEnv(
        wm, starts, per_step, cfg.n_envs, cfg.horizon, "latent", action_space=space,
        uncertainty_penalty=_extras(cfg, reward)[0], seed=seed,
    )  # fmt: skip
    if per_step is not None:
        return venv
    rewarder = (
        AILOTRewarder(IdentityEncoder(), device=cfg.device)
        if reward == "ailot"
        else OTRRewarder(device=cfg.device)
    )
    return OTRewardVecEnvWrapper(venv, _expert_latents(wm, data), rewarder)


def _env(cfg: DreamConfig) -> Any:
    """The real env as the run observes it: its states, or its frames (``pixels``)."""
    return make_pixel_env(cfg.env, cfg.frame_stack) if cfg.pixels else make_env(cfg.env)


def _real_env(cfg: DreamConfig, wm: Any) -> Any:
    """The real env as a latent policy sees it (DITTO's deployment: ``encode`` filters observations)."""
    return LatentObservationWrapper(_env(cfg), wm)


def _evaluator(
    cfg: DreamConfig, wm: Any, ref: tuple[float, float], seed: int
) -> Callable[[Any], tuple[float, float]]:
    """``evaluate(model) -> (mean return, normalized score)``: greedy episodes in the real env (the same
    reset seeds at every evaluation)."""
    env = _real_env(cfg, wm)

    def evaluate(model: Any) -> tuple[float, float]:
        policy = sb3_policy(model, deterministic=True)
        mean = float(
            np.mean(episode_returns(env, policy, n_episodes=cfg.n_eval_episodes, seed=50_000 + seed))
        )
        return mean, normalized_score(mean, *ref)

    return evaluate


def _method(cfg: DreamConfig, reward: str) -> str:
    """The table's name of PPO on ``reward`` (with the uncertainty penalty and the BC term, when set, and
    the starts when they are not the reward's own)."""
    penalty, bc_coef, starts = _extras(cfg, reward)
    name = (
        METHODS[reward] + (f" - {penalty:g} u" if penalty else "") + (f" + {bc_coef:g} BC" if bc_coef else "")
    )
    return name + (f" ({starts} starts)" if starts != METHOD_DEFAULTS[reward][2] else "")


def _extras(cfg: DreamConfig, reward: str) -> tuple[float, float, str]:
    """``(penalty, bc_coef, starts)`` of ``reward``: the config's, else the reward's own
    (:data:`METHOD_DEFAULTS`)."""
    own = METHOD_DEFAULTS[reward]
    given = (cfg.penalty, cfg.bc_coef, cfg.starts)
    return tuple(o if g is None else g for o, g in zip(own, given, strict=True))  # type: ignore[return-value]


def _train_dreamer(
    cfg: DreamConfig, venv: Any, reward: str, seed: int, evaluate: Callable[[Any], tuple[float, float]],
    log: Callable | None, latent_demos: list[Trajectory],
) -> tuple[Curve, float, PPO]:  # fmt: skip
    """SB3 PPO on the imagined envs (DITTO's gamma and GAE lambda), evaluated in the real env as it learns
    (and with the BC term on ``latent_demos`` if ``bc_coef``); the curve, PPO's own seconds (evaluations
    excluded) and the trained model."""
    evaluation = _RealEnvEval(_method(cfg, reward), cfg.eval_every, evaluate, log)
    callbacks: list[BaseCallback] = [evaluation]
    if reward in ("ailot", "otr"):  # OT rewards arrive at each episode's end, through this callback
        callbacks.insert(0, OTRewardCallback())
    if reward in ADVERSARIAL:  # the discriminator learns at each rollout's end
        callbacks.insert(0, AdversarialRewardCallback(venv.reward))
    bc_coef = _extras(cfg, reward)[1]
    if bc_coef:
        callbacks.insert(0, BCTermCallback(latent_demos, coef=bc_coef, pretrain_steps=BC_PRETRAIN, seed=seed))
    # one rollout of ~2048 imagined steps (at least an episode per env), never more than the budget
    n_steps = max(1, min(max(cfg.horizon, 2048 // cfg.n_envs), cfg.ppo_steps // cfg.n_envs))
    model = PPO(
        "MlpPolicy", venv, n_steps=n_steps, batch_size=min(256, n_steps * cfg.n_envs), gamma=cfg.gamma,
        gae_lambda=0.95, seed=seed, device=cfg.device or "cpu", verbose=0,
    )  # fmt: skip
    t0 = time.perf_counter()
    model.learn(cfg.ppo_steps, callback=callbacks, progress_bar=cfg.progress)
    seconds = time.perf_counter() - t0 - evaluation.seconds
    return evaluation.finish(model), seconds, model


class _RealEnvEval(BaseCallback):
    """Evaluates the learner in the real env before training, every ``every`` steps, and at the end;
    logs the real return and score beside the imagined return."""

    def __init__(
        self, name: str, every: int, evaluate: Callable[[Any], tuple[float, float]], log: Callable | None
    ) -> None:
        super().__init__()
        self.name, self.every, self.evaluate, self.log = name, every, evaluate, log
        self.curve: Curve = []
        self.seconds = 0.0  # spent evaluating (kept out of PPO's timing)

    def _record(self) -> None:
        t0 = time.perf_counter()
        mean, score = self.evaluate(self.model)
        self.seconds += time.perf_counter() - t0
        self.curve.append((self.num_timesteps, mean, score))
        if self.log is not None:
            imagined = [e["r"] for e in self.model.ep_info_buffer]
            extra = {f"{self.name}/imagined_return": float(np.mean(imagined))} if imagined else {}
            self.log(
                {
                    f"{self.name}/return": mean,
                    f"{self.name}/score": score,
                    f"{self.name}/step": self.num_timesteps,
                }
                | extra
            )

    def _on_training_start(self) -> None:
        self._record()

    def _on_step(self) -> bool:
        if self.num_timesteps - self.curve[-1][0] >= self.every:
            self._record()
        return True

    def finish(self, model: Any) -> Curve:
        """The curve, with a last evaluation at the final step if the cadence missed it."""
        if self.curve[-1][0] != model.num_timesteps:
            self._record()
        return self.curve


def _train_baselines(
    cfg: DreamConfig, wm: Any, data: DatasetWithDemos, log: Callable | None, echo: Callable[[str], None]
) -> dict[str, list[Curve]]:
    """DITTO's baselines on the same demonstrations: BC on observations, D-BC on the model's latents
    (d3rlpy BC, inputs standardised with the demos' mean and std)."""
    sets = {
        BASELINES[0]: (to_d3rlpy(data.demos_with_actions), lambda: _env(cfg)),
        BASELINES[1]: (
            to_d3rlpy(wm.latent_trajectories(data.demos_with_actions)),
            lambda: _real_env(cfg, wm),
        ),
    }
    curves: dict[str, list[Curve]] = {}
    for name, (mdp, env) in sets.items():
        for seed in cfg.seeds:
            echo(f"training {name} (seed {seed}) for {cfg.bc_steps} updates")
            pixels = cfg.pixels and name == BASELINES[0]  # D-BC's latents are vectors
            algo = make_algo("bc", device=d3rlpy_device(cfg.device), standardize=not pixels, pixels=pixels)
            run = train_offline(
                name, algo, mdp, env, n_steps=cfg.bc_steps,
                eval_every=max(1, cfg.bc_steps // 4), n_eval_episodes=cfg.n_eval_episodes, ref_scores=data.ref,
                seed=seed, progress=cfg.progress, log=log,
            )  # fmt: skip
            curves.setdefault(name, []).append(run.curve)
    return curves


def _train_dreamers(
    cfg: DreamConfig, wm: Any, data: DatasetWithDemos, out: Path, log: Callable | None,
    echo: Callable[[str], None],
) -> tuple[dict[str, list[Curve]], dict[str, float]]:  # fmt: skip
    """PPO in imagination for every reward and seed, each policy (and discriminator) saved to ``out``;
    also PPO's seconds per 100k imagined steps (median over seeds, real-env evaluations excluded)."""
    starts_of = {"expert": ImaginationStarts.from_trajectories(wm, data.demos)}
    if any(_extras(cfg, r)[2] == "data" for r in cfg.rewards):  # encoded once, for every seed
        starts_of["data"] = ImaginationStarts.from_trajectories(wm, data.trajs)
    latent_demos = wm.latent_trajectories(data.demos_with_actions)  # BC term, discriminators
    curves: dict[str, list[Curve]] = {}
    seconds: dict[str, list[float]] = {}
    for reward in cfg.rewards:
        name = _method(cfg, reward)
        for seed in cfg.seeds:
            echo(f"training {name} (seed {seed}) for {cfg.ppo_steps} imagined steps")
            venv = _imagination(cfg, wm, starts_of[_extras(cfg, reward)[2]], reward, seed, data, latent_demos)
            evaluate = _evaluator(cfg, wm, data.ref, seed)
            curve, secs, model = _train_dreamer(cfg, venv, reward, seed, evaluate, log, latent_demos)
            model.save(out / f"ppo_{reward}_seed{seed}.zip")
            if reward in ADVERSARIAL:  # say how the discriminator ended: a collapsed one shows here
                venv.reward.save(out / f"discriminator_{reward}_seed{seed}.pt")
                m = venv.reward.metrics
                echo(
                    f"  discriminator: accuracy on expert {m['expert_accuracy']:.2f}, on imagined "
                    f"{m['imagined_accuracy']:.2f}; D on expert {m['expert_d']:.2f}, on imagined {m['imagined_d']:.2f}"
                )
                if log is not None:
                    log({f"{name}/discriminator/{k}": v for k, v in m.items()})
            curves.setdefault(name, []).append(curve)
            seconds.setdefault(name, []).append(secs)
    return curves, {k: float(np.median(v)) * 100_000 / cfg.ppo_steps for k, v in seconds.items()}


def _plot_model_vs_real(wm: Any, demo: Any, path: Path, horizon: int, dims: int = 4) -> Path:
    """The model's open-loop rollout (ensemble mean, the demo's actions) against the real demo, for the
    first ``dims`` observation dims over ``4 * horizon`` steps, restarted from the real state every
    ``horizon`` steps as imagination does."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    obs = np.asarray(demo.observations())[: 4 * horizon + 1]
    acts = np.asarray(demo.acts)[: len(obs) - 1]
    pred = [obs[0].astype(np.float32)]
    z = wm.encode(obs[0])
    for t in range(len(acts)):
        z = wm.encode(obs[t]) if t % horizon == 0 else z
        z = wm.next(z[None], acts[t][None], head="mean")[0]
        pred.append(wm.decode(z))
    pred = np.stack(pred)
    if wm.pixels:
        return _plot_frames(obs, pred, path, horizon)
    k = min(dims, obs.shape[1])
    fig, axes = plt.subplots(k, 1, figsize=(7, 1.8 * k), sharex=True, squeeze=False)
    for d, ax in enumerate(axes[:, 0]):
        ax.plot(obs[:, d], "k", lw=1.2, label="real")
        ax.plot(pred[:, d], "C1--", lw=1.2, label="model (open loop)")
        for t in range(0, len(acts), horizon):
            ax.axvline(t, color="grey", lw=0.6, ls=":")
        ax.set_ylabel(f"obs[{d}]")
    axes[0, 0].legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel(f"step (restarted from the real state every {horizon} steps)")
    fig.suptitle("world model vs real env: an expert demonstration")
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _plot_frames(obs: np.ndarray, pred: np.ndarray, path: Path, horizon: int, n: int = 10) -> Path:
    """A pixel model's open-loop frames (the newest of each stack) under the real ones, ``n`` columns
    spread over one imagined episode of ``horizon`` steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.unique(np.linspace(0, min(horizon, len(obs) - 1), n).astype(int))
    fig, axes = plt.subplots(2, len(steps), figsize=(1.3 * len(steps), 3), squeeze=False)
    for col, t in enumerate(steps):
        for row, frames in enumerate((obs, pred)):
            ax = axes[row, col]
            ax.imshow(frames[t][-1], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(f"t={t}", fontsize=8)
    axes[0, 0].set_ylabel("real", fontsize=8)
    axes[1, 0].set_ylabel("model", fontsize=8)
    fig.suptitle("world model vs real env: an expert demonstration (open loop from t=0)", fontsize=9)
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _table(curves: dict[str, list[Curve]], data: DatasetWithDemos) -> list[dict[str, Any]]:
    """One row per method in ``curves``' order (final real-env score, mean ± standard error over seeds),
    then the references."""
    demo_returns = [float(t.rews.sum()) for t in data.demos_with_actions]  # type: ignore[union-attr]
    reference = {
        "expert demos": (demo_returns, len(demo_returns)),
        "random (ref_min)": ([data.ref[0]], 100),
        "expert (ref_max)": ([data.ref[1]], 100),
    }
    return score_rows(curves, tuple(curves), reference, data.ref)  # baselines first, then the rewards


def run_dream(cfg: DreamConfig, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole job (data, world model, PPO in imagination, baselines, table, plots); returns the
    rows, curves, timings and output paths (also written to ``results.json``)."""
    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wandb_run = start_wandb(cfg.wandb, asdict(cfg), out)
    log = wandb_run.log if wandb_run is not None else None
    data = _load_data(cfg, echo)
    wm = _fit_world_model(cfg, data, out, echo)
    model_png = _plot_model_vs_real(wm, data.demos_with_actions[0], out / "model_vs_real.png", cfg.horizon)
    dream_curves, ppo_seconds = _train_dreamers(cfg, wm, data, out, log, echo)
    bc_curves = _train_baselines(cfg, wm, data, log, echo)
    rows = _table(bc_curves | dream_curves, data)
    print_table(rows, echo)
    panels = [(dream_curves, "imagined env steps (PPO)"), (bc_curves, "updates (BC)")]
    curves_png = plot_curves(panels, out / "learning_curves.png", f"{cfg.env}: imitation in a world model")
    echo(f"learning curves: {curves_png}\nmodel vs real: {model_png}")
    total = time.perf_counter() - t_start
    echo(f"done in {total / 60:.1f} min")
    result = {
        "config": asdict(cfg),
        "rows": rows,
        "curves": bc_curves | dream_curves,
        "ppo_seconds_per_100k_steps": ppo_seconds,
        "seconds": total,
        "world_model": cfg.world_model or str(out / "world_model.pt"),
        "learning_curves_png": str(curves_png),
        "model_vs_real_png": str(model_png),
    }
    write_text(out / "results.json", json.dumps(result, indent=1, default=float))
    finish_wandb(wandb_run, rows)
    return result
