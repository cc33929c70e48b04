"""Imagination benchmarks (issue 13), section by section: world-model accuracy and env throughput.

**World-model k-step error.** A :class:`~sb3_ot.world_models.WorldModel` is fitted on an env's data and
its open-loop k-step prediction error (k = 1, 5, 15) on held-out episodes is put beside the "repeat the
last observation" baseline on the same (t, t + k) pairs: mean squared error per observation dimension,
in raw observation units. A model worth imagining in must beat the baseline clearly at every k.

Data: ``random`` rollouts of the env (uniform actions, seeded), so that nothing needs an expert.

**Throughput** (``--throughput``). Transitions per second, side by side in one run, alternating the arms:
the bare batched model call an imagination step needs (``next`` with a random head per row and
``terminated``, on ``n`` rows), :class:`~sb3_ot.world_models.ImaginationVecEnv` on ``n`` envs (that call
plus the env layer: starts, the DITTO reward, truncation, auto-resets, infos), and the real env as a
gymnasium ``SyncVectorEnv`` of ``n`` envs with random actions. The model has the default size (latent 64,
(256, 256), 5 heads); its weights do not change the cost, so it is fitted for a few updates only.

**Uncertainty ranking** (``--uncertainty``, issue 14). A model fitted on one kind of data (narrow: the
expert's); on held-out and other data, does CMIL's ``u`` (the heads' disagreement) rank its real k-step
error? Spearman's rank correlation per k.

**Returns** (``--returns``). ``sb3-ot dream``'s whole job per env (its per-env preset,
:data:`sb3_ot.dream.ENV_PRESETS`): the world model, PPO trained only in imagination with DITTO's reward
and with AILOT/OTR on latents, BC on the expert demonstrations and D-BC on their latents, all scored in
the real env (D4RL normalized, mean ± standard error over the seeds). Beside it, PPO's wall time per 100k
steps in imagination and in the real env (the same PPO settings; the real env as 8 ``DummyVecEnv`` envs).

**Reward gap** (``--reward-gap``, issue 14). Does DITTO's reward in a world model prefer the expert's
actions? From every 10th state of the env's expert demos, the model is rolled ``H`` steps with the
expert's own actions, with uniform random actions and with zero actions, and the DITTO rewards are
summed: PPO can only learn where the expert's sum stands clearly above the others. One minute per model
against 8-30 minutes of PPO; the state model (fitted here with the preset) stands beside saved pixel
models (``--world-model``, several allowed).

Usage: python benchmarks/imagination.py [--envs Pendulum-v1] [--updates 2000] [--write docs/benchmarks.md]
       python benchmarks/imagination.py --returns --envs Pendulum-v1 HalfCheetah-v5 [--seeds 0 1 2] [--write ...]
       python benchmarks/imagination.py --throughput [--env HalfCheetah-v5] [--write docs/benchmarks.md]
       python benchmarks/imagination.py --uncertainty --envs Pendulum-v1 [--train-kind expert] [--write ...]
       python benchmarks/imagination.py --reward-gap --world-model PIXEL_MODEL.pt [...] [--write ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import provenance, write_block

from sb3_ot.data import rollout
from sb3_ot.world_models import WorldModel

#: A model small enough to fit in minutes on 2 CPU cores (the defaults are sized for a GPU or patience).
CPU_PRESET = {"latent_dim": 32, "hidden": (128, 128), "n_heads": 5, "batch_size": 128, "lr": 1e-3}


def _ranking_pairs(model: WorldModel, obs: np.ndarray, acts: np.ndarray, ks: list[int]) -> dict:
    """One episode's ``{k: (mean u along the k-step open-loop rollout [rows], its real error [rows])}``."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    o = torch.as_tensor(np.array(obs, np.float32))  # a copy: trajectories' arrays are read-only
    z, u_sum, n = model.encode(o[:-1]), torch.zeros(len(acts)), len(acts)
    for j in range(1, min(max(ks), n) + 1):
        rows = n - j + 1  # rollouts from t = 0 .. rows-1 still inside the episode
        a = model._action_rows(acts, j - 1, rows)  # the model's own rows (prediction_error's; Discrete too)
        u_sum = u_sum[:rows] + model.uncertainty(z[:rows], a)
        z = model.next(z[:rows], a, head="mean")
        if j in ks:
            err = ((model.decode(z) - o[j : j + rows]) ** 2).mean(-1)
            out[j] = ((u_sum / j).numpy(), err.numpy())
    return out


def uncertainty_ranking(
    env_id: str, train_kind: str, test_kinds: list[str], updates: int, seed: int, expert_steps: int | None
) -> dict:
    """Does ``u`` rank the model's real error? Fit the CPU-preset model on ``train_kind`` data; on its
    held-out episodes and on up to 20 episodes of each ``test_kinds`` dataset, the heads' disagreement
    averaged along each k-step open-loop rollout (the true actions) against that rollout's real squared
    error; Spearman's rank correlation per k, pooled and per source."""
    from scipy.stats import spearmanr

    from sb3_ot.data.minari_io import load_trajectories
    from sb3_ot.datasets import build_dataset

    ks = [1, 5, 15]
    train = load_trajectories(build_dataset(env_id, train_kind, seed=seed, expert_steps=expert_steps))
    model = WorldModel(seed=seed, **CPU_PRESET).fit(train, n_updates=updates, progress=True)
    sources = {f"{train_kind} (held out)": model._heldout}
    for kind in test_kinds:
        sources[kind] = load_trajectories(build_dataset(env_id, kind, seed=seed, expert_steps=expert_steps))[
            :20
        ]
    pooled: dict[int, list] = {k: [[], []] for k in ks}
    per_source: dict[str, dict[int, float]] = {}
    for name, trajs in sources.items():
        mine: dict[int, list] = {k: [[], []] for k in ks}
        for t in trajs:
            for k, (u, err) in _ranking_pairs(model, t.observations(), t.acts, ks).items():
                for acc in (mine[k], pooled[k]):
                    acc[0].append(u)
                    acc[1].append(err)
        per_source[name] = {
            k: float(spearmanr(np.concatenate(u), np.concatenate(e))[0]) for k, (u, e) in mine.items() if u
        }
    rho = {k: float(spearmanr(np.concatenate(u), np.concatenate(e))[0]) for k, (u, e) in pooled.items() if u}
    print(f"{env_id}: Spearman(u, real k-step error) pooled {rho}; per source {per_source}")
    return {
        "env": env_id,
        "train": train_kind,
        "tests": test_kinds,
        "updates": updates,
        "rho": rho,
        "per_source": per_source,
    }


def uncertainty_markdown(results: list[dict], command: str) -> list[str]:
    lines = [
        "## Does the ensemble's disagreement rank the world model's error? (`benchmarks/imagination.py --uncertainty`)",
        *provenance(command),
        f"`WorldModel` with the CPU preset {CPU_PRESET}, fitted on one dataset kind; on its held-out episodes and "
        "on 20 episodes of other kinds, each k-step open-loop rollout (the true actions, ensemble mean) gives "
        "`u` (CMIL's disagreement, averaged over the rollout's steps) and its real squared error per observation "
        "dim after k steps. Spearman's rank correlation between the two, over all rollouts pooled and per source.",
        "",
        "| env | model data | k | Spearman pooled | per source |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        for k, rho in r["rho"].items():
            per = ", ".join(f"{name} {v[k]:.2f}" for name, v in r["per_source"].items() if k in v)
            lines.append(f"| {r['env']} | {r['train']} ({r['updates']} updates) | {k} | {rho:.2f} | {per} |")
    return lines


def model_errors(env_id: str, episodes: int, steps: int, updates: int, seed: int) -> dict:
    """Fit the CPU-preset model on random rollouts; k-step errors on its held-out episodes."""
    trajs = rollout(env_id, None, n_episodes=episodes, max_steps=steps, seed=seed)
    t0 = time.perf_counter()
    model = WorldModel(seed=seed, **CPU_PRESET).fit(trajs, n_updates=updates, progress=True)
    fit_s = time.perf_counter() - t0
    errors = model.prediction_error(ks=(1, 5, 15))
    for k, e in errors.items():
        print(
            f"{env_id} k={k:2d}: model {e['model']:.4g}  repeat-last {e['repeat_last']:.4g}  ({e['pairs']} pairs)"
        )
    return {
        "env": env_id,
        "episodes": episodes,
        "steps": steps,
        "updates": updates,
        "fit_s": fit_s,
        "errors": errors,
    }


def markdown(results: list[dict], command: str) -> list[str]:
    lines = [
        "## World-model k-step prediction error (`benchmarks/imagination.py`)",
        *provenance(command),
        f"`WorldModel` with the CPU preset {CPU_PRESET}, fitted on uniform-random rollouts; held-out "
        "episodes (10%). Mean squared error per observation dimension of the open-loop k-step prediction "
        "(encode o_t, k steps of the ensemble mean with the true actions, decode) beside repeating o_t.",
        "",
        "| env | data | updates (fit time) | k | model | repeat last obs | model / baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        data = f"{r['episodes']} x {r['steps']} steps"
        for k, e in r["errors"].items():
            ratio = e["model"] / e["repeat_last"] if e["repeat_last"] else float("nan")
            lines.append(
                f"| {r['env']} | {data} | {r['updates']} ({r['fit_s']:.0f} s) | {k} | {e['model']:.4g} | "
                f"{e['repeat_last']:.4g} | {ratio:.3f} |"
            )
    return lines


def _rate(step, n: int, steps: int) -> float:
    """Transitions per second of ``steps`` calls of ``step()`` on ``n`` envs (after one warm-up call)."""
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return n * steps / (time.perf_counter() - t0)


def _arms(env_id: str, model: WorldModel, starts, n: int, seed: int) -> dict:
    """The three step functions of one size ``n``: bare model call, imagination env, real vector env."""
    import gymnasium as gym

    from sb3_ot.rewards import LatentRewarder
    from sb3_ot.world_models import ImaginationVecEnv

    g = torch.Generator(device=model.device).manual_seed(seed)
    z = model.encode(torch.zeros(n, model.obs_dim))
    a = torch.rand(n, model.act_dim, generator=g) * 2 - 1

    def bare() -> None:
        with torch.no_grad():
            z2 = model.next(z, a, head="random", generator=g)
            model.terminated(z2)

    venv = ImaginationVecEnv(model, starts, LatentRewarder(starts.latents), n_envs=n, horizon=15, seed=seed)
    venv.reset()
    acts = np.random.default_rng(seed).uniform(-1, 1, (n, model.act_dim)).astype(np.float32)
    real = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)])
    real.reset(seed=seed)
    real_acts = real.action_space.sample()
    return {
        "bare": bare,
        "imagination env": lambda: venv.step(acts),
        "real env": lambda: real.step(real_acts),
    }


def throughput(env_id: str, sizes: list[int], repeats: int, seed: int) -> list[dict]:
    """Median transitions/s of each arm at each size, the arms alternated within every repeat."""
    trajs = rollout(env_id, None, n_episodes=20, max_steps=100, seed=seed)
    model = WorldModel(seed=seed).fit(trajs, n_updates=5, progress=False)
    from sb3_ot.world_models import ImaginationStarts

    starts = ImaginationStarts.from_trajectories(model, trajs)
    rows = []
    for n in sizes:
        arms = _arms(env_id, model, starts, n, seed)
        steps = max(5, 2000 // n)
        rates: dict[str, list[float]] = {k: [] for k in arms}
        for _ in range(repeats):
            for name, step in arms.items():
                rates[name].append(_rate(step, n, steps))
        med = {k: float(np.median(v)) for k, v in rates.items()}
        print(f"n={n:5d}: " + "  ".join(f"{k} {v:,.0f}/s" for k, v in med.items()), flush=True)
        rows.append({"n": n, **med})
    return rows


def throughput_markdown(rows: list[dict], env_id: str, repeats: int, command: str) -> list[str]:
    lines = [
        "## Imagination throughput (`benchmarks/imagination.py --throughput`)",
        *provenance(command),
        f"Transitions per second (median of {repeats} alternating repeats). `WorldModel` at its default size "
        f"(latent 64, (256, 256), 5 heads) fitted on {env_id} data; the imagination env uses the DITTO reward "
        f"and horizon 15; the real env is a gymnasium `SyncVectorEnv` of {env_id} with random actions. "
        "`env layer` is the imagination env's cost on top of the bare model call.",
        "",
        "| envs | bare model call | imagination env | env layer | real env | imagination / real |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        layer = r["bare"] / r["imagination env"] - 1
        lines.append(
            f"| {r['n']} | {r['bare']:,.0f} | {r['imagination env']:,.0f} | {100 * layer:.0f}% | "
            f"{r['real env']:,.0f} | {r['imagination env'] / r['real env']:.1f}x |"
        )
    return lines


def real_ppo_seconds(env_id: str, steps: int, seed: int) -> float:
    """Seconds per 100k steps of the same PPO in the real env (8 envs, rollouts of 2048 steps)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env_id, n_envs=8, seed=seed)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, gamma=0.95, gae_lambda=0.95, seed=seed)
    t0 = time.perf_counter()
    model.learn(steps)
    return (time.perf_counter() - t0) * 100_000 / steps


def returns(
    env_id: str, seeds: list[int], out: Path, real_steps: int, rewards: list[str], extra: dict,
    world_model: str | None = None,
) -> dict:  # fmt: skip
    """``sb3-ot dream`` on ``env_id`` with its preset, ``rewards`` and ``extra`` settings (penalty,
    bc_coef), over ``seeds``; PPO timings."""
    from sb3_ot.dream import DreamConfig, preset, run_dream

    extra = {k: v for k, v in extra.items() if v is not None}
    name = env_id + _suffix(extra)
    cfg = DreamConfig(
        **(preset(env_id, pixels=bool(extra.get("pixels"))) | extra),
        rewards=tuple(rewards),
        seeds=tuple(seeds),
        out_dir=str(out / name),
        world_model=world_model,
    )
    result = run_dream(cfg)
    result["real_ppo_seconds"] = real_ppo_seconds(env_id, real_steps, seeds[0])
    return result


def _suffix(extra: dict) -> str:
    """``_penalty10.0_pixels``: the settings a run changes, for its folder and block names."""
    return "".join(f"_{k}" if v is True else f"_{k}{v}" for k, v in extra.items() if v is not None)


def returns_markdown(r: dict, command: str) -> list[str]:
    """One env's block: settings, the score table, PPO's wall time in imagination and in the real env."""
    c = r["config"]
    lines = [
        f"## Imitation in a world model: {c['env']} (`benchmarks/imagination.py --returns`)",
        *provenance(command),
        "`sb3-ot dream` with the env's preset (`sb3_ot.dream.ENV_PRESETS`); no policy touches the real env "
        "while it learns (PPO only in imagination; BC/D-BC offline), all are scored there, D4RL normalized "
        "(100 * (return - random) / (expert - random)): mean ± standard error over seeds of the final "
        f"evaluation ({c['n_eval_episodes']} episodes). One world model (seed {c['seeds'][0]}); the seeds vary "
        "PPO and BC.",
        "",
        f"World model on `{c['dataset']}` + {c['experts']} expert demos (the first whole episodes of the "
        f"`expert` dataset): latent {c['latent_dim']}, hidden {tuple(c['wm_hidden'])}, {c['n_heads']} heads, consistency weight {c.get('wm_consistency', 20.0):g}, inverse-dynamics weight {c.get('wm_inverse', 0.0):g}, "
        f"{c['wm_updates']} updates{' (' + c['world_model'] + ')' if c.get('world_model') else ''}. PPO {c['ppo_steps']:,} imagined steps, {c['n_envs']} envs, horizon "
        f"{c['horizon']}, gamma {c['gamma']}; uncertainty penalty and BC term as the method names say. "
        f"BC/D-BC {c['bc_steps']} updates. Whole run {r['seconds'] / 60:.0f} min.",
        *(_pixels_text(c) if c.get("pixels") else []),
        "",
        "| method | normalized score | seeds |",
        "|---|---|---|",
    ]
    for row in r["rows"]:
        se = f" ± {row['se']:.1f}" if row["se"] else ""
        lines.append(f"| {row['method']} | {row['score']:.1f}{se} | {row['n']} |")
    ppo = ", ".join(f"{k} {v:.0f} s" for k, v in r["ppo_seconds_per_100k_steps"].items())
    lines += ["", f"PPO wall time per 100k steps: in imagination {ppo}; in the real env "
              f"(8 `DummyVecEnv` envs) {r['real_ppo_seconds']:.0f} s."]  # fmt: skip
    return lines


def _pixels_text(c: dict) -> list[str]:
    return [
        "",
        f"**From pixels**: every observation is the env's own frame (`env.render()`), 64 x 64 grayscale, "
        f"{c['frame_stack']} stacked (the datasets re-rendered from their stored states, "
        f"`sb3_ot.data.render_pixel_trajectories`); the world model's CNNs are {c['cnn_depth']} wide "
        f"(batch {c['wm_batch']} windows); BC learns on the frames (d3rlpy's CNN), D-BC and PPO on the "
        "model's latents of them; all are scored in the real env through `PixelObservationWrapper`.",
    ]


def _summed_reward(model: WorldModel, reward, z: torch.Tensor, episode: int, start: int, acts) -> float:
    """DITTO's rewards summed over the imagined steps of ``acts [k, A]`` from latent ``z [1, L]``, each
    step compared with the expert latent ``start + 1, start + 2, ...`` of ``episode``."""
    total = 0.0
    for k, a in enumerate(acts):
        z = torch.as_tensor(model.next(z, torch.as_tensor(a)[None]))
        total += float(reward(z, None, torch.tensor([episode]), torch.tensor([start + k + 1]))[0])
    return total


def _gap(model: WorldModel, demos: list, horizons: tuple[int, ...], seed: int) -> dict:
    """Summed DITTO reward over ``H`` imagined steps from the demos' states, per kind of actions."""
    from sb3_ot.rewards.latent import LatentRewarder

    rng = np.random.default_rng(seed)
    latents = [torch.as_tensor(model.encode(np.asarray(t.obs))) for t in demos]
    reward = LatentRewarder(latents)
    out = {}
    for H, kind in ((H, kind) for H in horizons for kind in ("expert", "random", "zero")):
        sums = []
        for e, t in enumerate(demos):
            acts = np.asarray(t.acts, dtype=np.float32).reshape(len(t.acts), -1)
            high = np.abs(acts).max()  # the env's bound, as the demos reach it
            for s in range(0, len(acts) - H, 10):
                if kind == "expert":
                    steps = acts[s : s + H - 1]
                elif kind == "zero":
                    steps = np.zeros_like(acts[: H - 1])
                else:
                    steps = rng.uniform(-high, high, (H - 1, acts.shape[1])).astype(np.float32)
                sums.append(_summed_reward(model, reward, latents[e][s][None], e, s, steps))
        out[f"{kind}_H{H}"] = float(np.mean(sums))
    return out


def reward_gap(args: argparse.Namespace) -> list[dict]:
    """The gap of the env's state model (the dream preset, fitted here) and of each saved pixel model."""
    import tempfile

    from sb3_ot.dream import DreamConfig, _fit_world_model, _load_data, preset

    env, horizons, quiet = args.envs[0], (8, 15), lambda s: None
    state_cfg = DreamConfig(**preset(env), seeds=(args.seed,), progress=False)
    data = _load_data(state_cfg, quiet)
    with tempfile.TemporaryDirectory() as tmp:
        state = _fit_world_model(state_cfg, data, Path(tmp), quiet)
    rows = [
        {"model": f"state model ({state_cfg.wm_updates} updates)"}
        | _gap(state, data.demos_with_actions, horizons, args.seed)
    ]
    if args.world_model:
        pixel_data = _load_data(DreamConfig(**preset(env, pixels=True), progress=False), quiet)
        for path in args.world_model:
            model = WorldModel.load(path)
            rows.append(
                {"model": f"pixels: {path}"} | _gap(model, pixel_data.demos_with_actions, horizons, args.seed)
            )
    for r in rows:
        print(r, flush=True)
    return rows


def reward_gap_markdown(rows: list[dict], command: str) -> list[str]:
    lines = [
        "## Does DITTO's reward prefer the expert's actions? (`benchmarks/imagination.py --reward-gap`)",
        *provenance(command),
        "Summed DITTO reward over H imagined steps from every 10th state of the expert demos, with the "
        'expert\'s actions / uniform random actions / zero actions (docs/world_models.md, "Pixels").',
        "",
        "| model | H = 8: expert / random / zero | H = 15: expert / random / zero |",
        "|---|---|---|",
    ]
    for r in rows:
        cells = [" / ".join(f"{r[f'{k}_H{H}']:.2f}" for k in ("expert", "random", "zero")) for H in (8, 15)]
        lines.append(f"| {r['model']} | {cells[0]} | {cells[1]} |")
    return lines


def run_returns(args: argparse.Namespace, command: str) -> None:
    """The ``--returns`` section for every env, each written to its own block."""
    for env_id in args.envs:
        extra = {
            "penalty": args.penalty,
            "bc_coef": args.bc_coef,
            "dataset": args.dataset,
            "horizon": args.horizon,
            "wm_consistency": args.wm_consistency,
            "wm_inverse": args.wm_inverse,
        }
        extra["pixels"] = True if args.pixels else None
        model = args.world_model[0] if args.world_model else None  # --returns takes one
        result = returns(env_id, args.seeds, args.out, args.real_steps, args.rewards, extra, model)
        if args.write:  # one block per env and variant: parallel runs do not clobber each other
            # the DITTO / OT blocks keep their names; runs with other rewards or settings get their own
            suffix = _suffix(extra)
            if set(args.rewards) - {"ditto", "ailot", "otr"}:
                suffix = "_" + "-".join(args.rewards) + suffix
            block = f"imagination_returns_{env_id}{suffix}"
            write_block(args.write, block, returns_markdown(result, command), "Benchmarks")
            print(f"wrote {args.write}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["Pendulum-v1"])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--updates", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write", type=Path, default=None)
    p.add_argument("--throughput", action="store_true", help="the env throughput section instead")
    p.add_argument("--env", default="HalfCheetah-v5", help="the throughput section's env")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64, 256, 1024])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--returns", action="store_true", help="the real-env returns section instead")
    p.add_argument("--uncertainty", action="store_true", help="the uncertainty-ranking section instead")
    p.add_argument("--train-kind", default="expert", help="the uncertainty section's model data")
    p.add_argument("--test-kinds", nargs="+", default=["random", "medium"], help="its other test data")
    p.add_argument(
        "--expert-steps", type=int, default=None, help="the datasets' expert budget (default: the env's)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--rewards", nargs="+", default=["ditto", "ailot", "otr"], help="the returns section's rewards"
    )
    p.add_argument("--real-steps", type=int, default=20_000, help="PPO steps timed in the real env")
    p.add_argument(
        "--world-model",
        nargs="+",
        default=None,
        help="a saved world model of a run with the same settings (--reward-gap: several)",
    )
    p.add_argument("--reward-gap", action="store_true", help="does DITTO's reward prefer expert actions?")
    p.add_argument(
        "--pixels", action="store_true", help="--returns from the env's frames (sb3-ot dream --pixels)"
    )
    p.add_argument("--dataset", default=None, help="the world model's data kind (default: the env's preset)")
    p.add_argument(
        "--penalty", type=float, default=None, help="uncertainty penalty (default: each reward's own)"
    )
    p.add_argument(
        "--bc-coef", type=float, default=None, help="BC term (default: each reward's own; CMIL 10)"
    )
    p.add_argument("--horizon", type=int, default=None, help="imagined episode length (default 15)")
    p.add_argument(
        "--wm-consistency", type=float, default=None, help="world-model consistency weight (default 20)"
    )
    p.add_argument(
        "--wm-inverse", type=float, default=None, help="world-model inverse-dynamics weight (default 0)"
    )
    p.add_argument("--tag", default=None, help="--reward-gap: a suffix of the block's name (its own block)")
    p.add_argument("--out", type=Path, default=Path("bench_dream"))
    args = p.parse_args()
    torch.manual_seed(args.seed)
    command = "python " + " ".join(sys.argv)
    if args.throughput:
        rows = throughput(args.env, args.sizes, args.repeats, args.seed)
        if args.write:
            lines = throughput_markdown(rows, args.env, args.repeats, command)
            write_block(args.write, "imagination_throughput", lines, "Benchmarks")
            print(f"wrote {args.write}")
        return
    if args.uncertainty:
        results = [
            uncertainty_ranking(
                e, args.train_kind, args.test_kinds, args.updates, args.seed, args.expert_steps
            )
            for e in args.envs
        ]
        if args.write:
            write_block(
                args.write, "imagination_uncertainty", uncertainty_markdown(results, command), "Benchmarks"
            )
            print(f"wrote {args.write}")
        return
    if args.reward_gap:
        rows = reward_gap(args)
        if args.write:
            block = "imagination_reward_gap" + (f"_{args.tag}" if args.tag else "")
            write_block(args.write, block, reward_gap_markdown(rows, command), "Benchmarks")
        return
    if args.returns:
        run_returns(args, command)
        return
    results = [model_errors(e, args.episodes, args.steps, args.updates, args.seed) for e in args.envs]
    if args.write:
        write_block(
            args.write,
            "imagination_model_errors",
            markdown(results, "python " + " ".join(sys.argv)),
            "Benchmarks",
        )
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
