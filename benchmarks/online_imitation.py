"""Online imitation with OTRewardWrapper: SB3 agents that never see the env reward, scored on it.

For each env, one deterministic episode of the cached SB3 expert (``sb3_ot.data.train_expert``) is the
only demonstration. Each run trains an SB3 agent on one reward and evaluates the deterministic policy
on the **true** env return every ``--eval-every`` steps (10 episodes, fixed reset seeds), reported as
a normalized score ``100 * (R - random) / (expert - random)`` with the expert run's reference returns.

Rewards (``--runs`` names ``ALGO:REWARD``):

* ``ot-episode``: ``OTRewardWrapper(mode="episode")`` (PPO: ``OTRewardVecEnvWrapper``) plus
  ``OTRewardCallback``: the whole-episode OT reward, written into SB3's buffer.
* ``ot-step``: ``OTRewardWrapper(mode="step")``: the causal prefix reward, no callback.
* ``true``: the env's own reward (the reference).
* ``zero``: a zero reward (the floor: what the algorithm does with no signal).

Hyperparameters are rl-zoo3's for Pendulum (SAC: lr 1e-3; PPO: its tuned set) and SB3's defaults
otherwise. Each run's result is saved (atomically) in ``--out`` as it finishes and reused by later
invocations, so an interrupted benchmark continues where it stopped; ``--jobs`` runs several at once
(one torch thread each).

``--overhead`` measures the wrapper's cost per env step: 8 vectorised MuJoCo envs (HalfCheetah-v5,
1000-step episodes) stepped with and without ``OTRewardVecEnvWrapper(mode="episode")``, alternating,
median of the repeats, for a random agent and for the SB3 expert's stochastic policy (see
:func:`overhead`; ``--overhead-steps 1000 --overhead-repeats 1 --overhead-agents random`` is a quick
look). Its pieces (:func:`record`, :func:`time_replays`, :func:`replay_ot_rewards`) also serve
``gpu_check.py``.

Usage (the commands behind docs/benchmarks.md):
  python benchmarks/online_imitation.py --env Pendulum-v1 --steps 30000 --runs sac:ot-episode sac:ot-step sac:true --jobs 2
  python benchmarks/online_imitation.py --env Pendulum-v1 --steps 100000 --eval-every 10000 --runs ppo:ot-episode ppo:zero ppo:true
  python benchmarks/online_imitation.py --env InvertedDoublePendulum-v5 --steps 30000 --eval-every 5000 --runs sac:ot-episode --jobs 3
  python benchmarks/online_imitation.py --overhead
  python benchmarks/online_imitation.py --report docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sb3_ot._files import atomic_write, write_text

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from sb3_ot.data.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / ".cache" / "online_imitation"
DEMO_SEED = 10_001  # reset seed of the demonstration episode (10_000 starts upright: no swing-up to show)

# rl-zoo3 hyperparams/{sac,ppo}.yml for Pendulum-v1 (PPO without gSDE's n_envs change: 4 envs, as there)
HYPER = {
    ("sac", "Pendulum-v1"): dict(learning_rate=1e-3),
    ("ppo", "Pendulum-v1"): dict(
        n_steps=1024,
        gae_lambda=0.95,
        gamma=0.9,
        n_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        clip_range=0.2,
        use_sde=True,
        sde_sample_freq=4,
    ),
}
N_ENVS = {"sac": 1, "ppo": 4}


def demonstration(env_id: str):
    """One deterministic episode of the env's cached SB3 expert, and the expert run."""
    from sb3_ot.data import rollout, train_expert

    run = train_expert(env_id, progress=False)
    demo = rollout(env_id, run.policy("expert", deterministic=True), n_episodes=1, seed=DEMO_SEED)
    return demo, run


def train_one(env_id: str, algo: str, reward: str, seed: int, steps: int, eval_every: int) -> dict:
    """One training run; returns its evaluation curve and timings."""
    import torch

    torch.set_num_threads(1)
    import gymnasium as gym
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    from sb3_ot.data import normalized_score
    from sb3_ot.data.envs import make_env
    from sb3_ot.wrappers import OTRewardCallback, OTRewardVecEnvWrapper, OTRewardWrapper

    demo, run = demonstration(env_id)
    n_envs = N_ENVS[algo]
    callbacks: list[BaseCallback] = []
    wrapper_class, wrapper_kwargs = None, None
    if reward == "ot-step" or (reward == "ot-episode" and algo == "sac"):
        wrapper_class = OTRewardWrapper
        wrapper_kwargs = dict(expert=demo, mode=reward.removeprefix("ot-"))
    elif reward == "zero":
        wrapper_class = gym.wrappers.TransformReward
        wrapper_kwargs = dict(func=lambda r: 0.0)
    env = make_vec_env(
        lambda: make_env(env_id),
        n_envs,
        seed=seed,
        wrapper_class=wrapper_class,
        wrapper_kwargs=wrapper_kwargs,
    )
    if reward == "ot-episode" and algo == "ppo":
        env = OTRewardVecEnvWrapper(env, demo, mode="episode")
    if reward == "ot-episode":
        callbacks.append(OTRewardCallback())

    eval_env = make_env(env_id)
    curve: list[tuple[int, float, float]] = []

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every < n_envs:
                returns, _ = evaluate_policy(
                    self.model, eval_env, n_eval_episodes=10, deterministic=True, return_episode_rewards=True
                )
                mean = float(np.mean(returns))
                score = normalized_score(mean, run.random_return, run.expert_return)
                curve.append((int(self.num_timesteps), mean, score))
            return True

    cls = {"sac": SAC, "ppo": PPO}[algo]
    model = cls("MlpPolicy", env, seed=seed, verbose=0, device="cpu", **HYPER.get((algo, env_id), {}))
    start = time.perf_counter()
    model.learn(steps, callback=CallbackList([*callbacks, Evaluate()]))
    seconds = time.perf_counter() - start
    return dict(
        env=env_id,
        algo=algo,
        reward=reward,
        seed=seed,
        steps=steps,
        curve=curve,
        final_score=curve[-1][2] if curve else float("nan"),
        seconds=seconds,
        random_return=run.random_return,
        expert_return=run.expert_return,
        demo_return=float(demo[0].rews.sum()),
    )


def result_path(out: Path, env_id: str, algo: str, reward: str, seed: int, steps: int) -> Path:
    return out / f"{env_id}_{algo}_{reward}_seed{seed}_{steps}.json"


def run_and_save(args: tuple) -> Path:
    out, env_id, algo, reward, seed, steps, eval_every = args
    path = result_path(out, env_id, algo, reward, seed, steps)
    result = train_one(env_id, algo, reward, seed, steps, eval_every)
    write_text(path, json.dumps(result))
    print(f"{path.name}: final score {result['final_score']:.1f} in {result['seconds']:.0f} s", flush=True)
    return path


@dataclass
class Recording:
    """One agent's open-loop replay material: the actions of every vectorised step from reset seed
    ``seed``, the episodes they produced (env by env, each ``episode_steps`` long) and the last observation."""

    actions: list[np.ndarray]
    episodes: list[Trajectory]
    last_obs: np.ndarray
    seed: int


def record(
    venv: VecEnv, act: Callable[[np.ndarray], np.ndarray], steps: int, episode_steps: int, seed: int = 0
) -> Recording:
    """Step ``venv`` (reset with ``seed``) ``steps`` times with ``act(obs)`` and keep what a replay needs.

    ``steps`` must be a multiple of ``episode_steps``, and the env must not end episodes early
    (HalfCheetah does not): every env's episodes then end together, at the time limit."""
    from sb3_ot.data.trajectory import Trajectory

    venv.seed(seed)
    obs = venv.reset()
    actions, observations = [], [[o] for o in obs]
    for _ in range(steps):
        a = act(obs)
        obs, _, dones, infos = venv.step(a)
        actions.append(a)
        for i in range(venv.num_envs):  # a finished episode's last state, then the next one's first
            observations[i] += [infos[i]["terminal_observation"], obs[i]] if dones[i] else [obs[i]]
    n = episode_steps + 1
    episodes = [
        Trajectory(np.stack(o[k * n : (k + 1) * n]), None, terminated=False)
        for o in observations
        for k in range(steps // episode_steps)
    ]
    return Recording(actions, episodes, obs, seed)


def time_replays(arms: dict[str, VecEnv], rec: Recording, repeats: int, sync: Callable[[], None]) -> dict:
    """Median seconds per vectorised step of each arm replaying ``rec``'s actions from its reset seed.

    The arms alternate within every repeat, so a slow spell of a shared machine hits them alike;
    ``sync()`` runs before each clock read (``torch.cuda.synchronize`` for a rewarder on a GPU).
    Raises if a replay leaves the recorded states (MuJoCo is deterministic: it should not)."""
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):
        for name, venv in arms.items():
            venv.seed(rec.seed)
            venv.reset()
            sync()
            start = time.perf_counter()
            for a in rec.actions:
                last = venv.step(a)[0]
            sync()
            times[name].append((time.perf_counter() - start) / len(rec.actions))
            if not np.allclose(last, rec.last_obs):
                raise RuntimeError(f"the open-loop replay of {name!r} left the recorded states")
    return {name: float(np.median(t)) for name, t in times.items()}


def replay_ot_rewards(wrapped: VecEnv, rec: Recording) -> list[np.ndarray]:
    """The ``info["ot_rewards"]`` an episode-mode wrapper emits when ``rec`` is replayed through it, in
    the order of ``rec.episodes`` (env by env)."""
    wrapped.claim_ot_rewards()  # read here, from the infos
    wrapped.seed(rec.seed)
    wrapped.reset()
    per_env: list[list[np.ndarray]] = [[] for _ in range(wrapped.num_envs)]
    for a in rec.actions:
        for i, info in enumerate(wrapped.step(a)[3]):
            if "ot_rewards" in info:
                per_env[i].append(info["ot_rewards"])
    return [r for rewards in per_env for r in rewards]


def overhead(
    env_id: str = "HalfCheetah-v5",
    n_envs: int = 8,
    steps: int = 2000,
    repeats: int = 9,
    agents: Sequence[str] = ("random", "expert"),
) -> dict:
    """Seconds per vectorised step with and without the episode-mode wrapper, alternating runs, for
    two agents: uniform random actions (the start of training) and the SB3 expert's stochastic policy
    (the end of training, where the agent's states are close to the demonstration's).

    The actions of each agent are recorded once and replayed open-loop from the same reset seeds
    (MuJoCo is deterministic: the replay revisits the recorded states, checked), so both arms step
    the same episodes and the policy's inference is in neither. Also timed on the recorded
    episodes: the rewarder's batched OT per episode, and POT's exact ``ot.emd`` per episode (the
    reference solver).
    """
    import ot as pot
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_ot.data.envs import make_env
    from sb3_ot.wrappers import OTRewardVecEnvWrapper

    demo, run = demonstration(env_id)
    model = run.load_policy("expert")
    plain = make_vec_env(lambda: make_env(env_id), n_envs, seed=0)
    wrapped = OTRewardVecEnvWrapper(make_vec_env(lambda: make_env(env_id), n_envs, seed=0), demo)
    wrapped.claim_ot_rewards()  # nothing trains on the rewards here: timing only, no warning wanted
    rewarder = wrapped.rewarder
    rng = np.random.default_rng(0)
    torch.manual_seed(0)  # the expert policy's sampled actions
    result: dict = dict(
        env=env_id, n_envs=n_envs, steps=steps, repeats=repeats, threads=torch.get_num_threads()
    )
    acts = {
        "random": lambda obs: rng.uniform(-1, 1, (n_envs, *plain.action_space.shape)).astype(np.float32),
        "expert": lambda obs: model.predict(obs, deterministic=False)[0],
    }
    for agent in agents:
        rec = record(plain, acts[agent], steps, episode_steps=1000)
        times = time_replays({"plain": plain, "wrapped": wrapped}, rec, repeats, sync=lambda: None)
        ot_s, exact_s = [], []
        for _ in range(3):
            start = time.perf_counter()
            rewarder.rewards(rec.episodes[:n_envs])
            ot_s.append((time.perf_counter() - start) / n_envs)
        # the rewarder's features are tensors on its device; POT wants float64 arrays
        x = rewarder.features(rec.episodes[0].obs).double().cpu().numpy()
        y = rewarder.experts[0].double().cpu().numpy()
        cost = pot.dist(x, y)  # the default rewarder's sqeuclidean
        for _ in range(3):
            start = time.perf_counter()
            pot.emd(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=10**7)
            exact_s.append(time.perf_counter() - start)
        plain_s, wrapped_s = times["plain"], times["wrapped"]
        result[agent] = dict(
            plain_ms=1e3 * plain_s,
            wrapped_ms=1e3 * wrapped_s,
            overhead=(wrapped_s - plain_s) / plain_s,
            ot_ms_per_episode=1e3 * float(np.median(ot_s)),
            pot_emd_ms_per_episode=1e3 * float(np.median(exact_s)),
            env_ms_per_episode=1e3 * plain_s * 1000 / n_envs,
            agent_return=float(np.mean([r.sum() for r in rewarder.rewards(rec.episodes)])),
        )
        print(agent, json.dumps(result[agent]), flush=True)
    return result


# ----------------------------------------------------------------------------- report
LABELS = {
    "ot-episode": "OT, episode mode",
    "ot-step": "OT, step mode",
    "true": "true reward",
    "zero": "zero reward",
}


def load_results(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.name != "overhead.json"]


def plot(results: list[dict], path: Path, env_id: str, algo: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for reward in LABELS:
        runs = [r for r in results if r["reward"] == reward]
        if not runs:
            continue
        n = min(len(r["curve"]) for r in runs)
        steps = np.array([c[0] for c in runs[0]["curve"][:n]])
        scores = np.array([[c[2] for c in r["curve"][:n]] for r in runs])
        mean, se = scores.mean(0), scores.std(0) / np.sqrt(len(runs))
        ax.plot(steps, mean, label=f"{LABELS[reward]} ({len(runs)} seeds)")
        ax.fill_between(steps, mean - se, mean + se, alpha=0.2)
    ax.axhline(100, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("env steps")
    ax.set_ylabel("normalized true return")
    ax.set_title(f"{algo.upper()} on {env_id}: 1 demo, env reward unseen", fontsize=10)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def report(out: Path, write: Path) -> None:
    from _report import machine, write_block

    results = load_results(out)
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["env"], r["algo"], r["steps"]), []).append(r)
    usage = __doc__.split("Usage (the commands behind docs/benchmarks.md):\n")[1].strip().splitlines()
    lines = [
        "## Online imitation: SB3 + OTRewardWrapper (`benchmarks/online_imitation.py`)",
        "",
        f"{dt.date.today().isoformat()} · {machine()}. Commands:",
        "```",
        *[u.strip() for u in usage],
        "```",
        "One deterministic expert episode is the only demonstration; the agent never sees the env reward.",
        "Scores: the deterministic policy's true return (10 episodes), normalized `100 * (R - random) /",
        "(expert - random)` with the cached expert's reference returns; mean ± SE over seeds at the",
        "budget's end (final) and the best evaluation of the seed-mean curve (best). Wall times are per",
        "run with 2-5 runs sharing the 2 cores.",
        "",
    ]
    for (env_id, algo, steps), runs in sorted(groups.items()):
        lines += [
            "| env | algo | budget | reward | seeds | final | best | wall s / run |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for reward in LABELS:
            rs = [r for r in runs if r["reward"] == reward]
            if not rs:
                continue
            finals = np.array([r["final_score"] for r in rs])
            n = min(len(r["curve"]) for r in rs)
            best = np.array([[c[2] for c in r["curve"][:n]] for r in rs]).mean(0).max()
            se = finals.std() / np.sqrt(len(finals))
            lines.append(
                f"| {env_id} | {algo.upper()} | {steps:,} | {LABELS[reward]} | {len(rs)} | "
                f"{finals.mean():.1f} ± {se:.1f} | {best:.1f} | {np.median([r['seconds'] for r in rs]):.0f} |"
            )
        img = ROOT / "docs" / "img" / f"online_{env_id}_{algo}.png"
        plot(runs, img, env_id, algo)
        lines += ["", f"![{algo} {env_id}](img/{img.name})", ""]
    ov = out / "overhead.json"
    if ov.exists():
        o = json.loads(ov.read_text())
        lines += [
            "",
            f"**Wrapper overhead** (episode mode, {o['n_envs']} vectorised {o['env']}, 1000-step episodes, "
            f"{o['steps']} steps per run, median of {o['repeats']} alternating runs, torch with "
            f"{o['threads']} threads; the agents' recorded actions replayed open-loop). The OT of all "
            f"{o['n_envs']} episodes that end at one step is one batched call; POT's exact `ot.emd` on one "
            "of the same episodes is the reference solver.",
            "",
            "| agent | agent's OT return | env ms / vec step | with wrapper | overhead | OT ms / episode "
            "| env ms / episode | POT emd ms / episode |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for agent, label in (
            ("random", "random actions (start of training)"),
            ("expert", "SB3 expert, stochastic"),
        ):
            if agent not in o:  # run with --overhead-agents naming the other one only
                continue
            a = o[agent]
            lines.append(
                f"| {label} | {a['agent_return']:.1f} | {a['plain_ms']:.3f} | {a['wrapped_ms']:.3f} | "
                f"**{100 * a['overhead']:.0f}%** | {a['ot_ms_per_episode']:.0f} | {a['env_ms_per_episode']:.0f} "
                f"| {a['pot_emd_ms_per_episode']:.0f} |"
            )
    write_block(write, "online_imitation", lines, "Benchmarks")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--runs", nargs="+", default=[], help="ALGO:REWARD, e.g. sac:ot-episode")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--eval-every", type=int, default=2000)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--overhead", action="store_true")
    p.add_argument(
        "--overhead-steps",
        type=int,
        default=2000,
        help="vectorised steps per timed run: a multiple of the 1000-step episode",
    )
    p.add_argument("--overhead-repeats", type=int, default=9)
    p.add_argument("--overhead-agents", nargs="+", default=["random", "expert"], choices=["random", "expert"])
    p.add_argument("--report", type=Path, default=None, help="write the table of all saved runs here")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    todo = []
    for spec in args.runs:
        algo, reward = spec.split(":")
        for seed in args.seeds:
            if not result_path(args.out, args.env, algo, reward, seed, args.steps).exists():
                todo.append((args.out, args.env, algo, reward, seed, args.steps, args.eval_every))
    if todo:
        demonstration(args.env)  # train (or load) the expert once, before any worker needs it
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                list(pool.map(run_and_save, todo))
        else:
            for item in todo:
                run_and_save(item)
    if args.overhead:
        result = overhead(
            steps=args.overhead_steps, repeats=args.overhead_repeats, agents=args.overhead_agents
        )
        write_text(args.out / "overhead.json", json.dumps(result))
        print(json.dumps(result, indent=1))
    if args.report:
        report(args.out, args.report)


if __name__ == "__main__":
    main()
