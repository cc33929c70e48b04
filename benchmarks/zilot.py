"""ZILOT benchmarks (issue 15): imitation quality beside the paper, planning time, and the OT solver.

**Quality** (default). ``sb3-ot zilot``'s whole job per env (:func:`sb3_ot.zilot.run_zilot`): the goal
model learned offline from the env's local data at a size preset, then ZILOT, MPC+Cls and Pi+Cls on the
paper's tasks (every task of the env in turn, variants counting up), each episode from the first goal;
W_min and GoalFraction (mean ± standard error over seeds of each seed's episode mean), success rate,
median planning seconds per env step and the OT share of it. The paper's figures stand beside ours.

**Sinkhorn** (``--sinkhorn``). The planner's own batched OT problems, captured during a real episode
(``Planner.problems``: each iCEM iteration's whole population, padded over envs), solved side by side
by ``sb3_ot.ot.sinkhorn_matrix`` at the planner's settings (eps 0.02, to a marginal tolerance) and by a
batched log-domain Sinkhorn loop at the official 500 fixed iterations (``ot_util.sinkhorn_log`` of the
official code, here in torch on the same device and threads): median time of several runs each, and
the objective ``<P, C>`` of both (relative difference per problem; the planner ranks by it).

Usage: python benchmarks/zilot.py [--envs FetchPush-v4] [--seeds 0 1 2] [--episodes 20] [--write docs/benchmarks.md]
       python benchmarks/zilot.py --sinkhorn --model sb3_ot_zilot/goal_model.pt [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_block  # noqa: E402

#: The paper's Table (W_min / GoalFraction), ZILOT and Pi+Cls (issue 15).
PAPER = {
    "PointMaze_Medium-v3": {"zilot": (0.32, 0.95), "pi+cls": (0.37, 1.0)},
    "FetchPush-v4": {"zilot": (0.07, 0.75), "pi+cls": (0.085, 0.80)},
    "FetchPickAndPlace-v4": {"zilot": (0.07, 0.72), "pi+cls": (0.11, 0.54)},
}
NAMES = {"zilot": "ZILOT", "mpc+cls": "MPC+Cls", "pi+cls": "Pi+Cls"}


def quality(env: str, args: argparse.Namespace) -> dict:
    from sb3_ot.zilot import ZilotConfig, run_zilot

    cfg = ZilotConfig(
        env=env,
        seeds=tuple(args.seeds),
        n_episodes=args.episodes,
        preset=args.preset,
        n_updates=args.updates,
        model=args.model,
        out_dir=str(Path(args.out) / env),
    )
    return run_zilot(cfg)


def quality_markdown(r: dict, command: str) -> list[str]:
    c, s, m = r["config"], r["planner"], r["model_settings"]
    paper = PAPER.get(c["env"], {})
    solver = (
        "500 fixed Sinkhorn iterations" if s["sinkhorn_iters"] else "Sinkhorn to a 1e-3 marginal tolerance"
    )
    lines = [
        f"## ZILOT zero-shot imitation: {c['env']} (`benchmarks/zilot.py`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}",
        "",
        f"Goal model at the `{c['preset']}` preset (`sb3_ot.planners.PRESETS`, `sb3_ot.zilot.ENV_PRESETS`), "
        f"learned offline from the env's local data; no expert of the tasks is shown. {c['n_episodes']} episodes "
        f"per method and seed over the env's tasks (each from its first goal), seeds {list(c['seeds'])}. "
        f"Model: latent {m['latent_dim']}, MLPs {m['mlp_dim']}, {m['n_q']} Q heads, {r['updates']} updates, "
        f"value scale {m['value_scale']:g}. Planner: iCEM population {s['population']}, {s['elites']} elites, "
        f"{s['iterations']} iterations, horizon {s['horizon']}; {solver}; classifier threshold 5 steps. "
        f"Whole run {r['seconds'] / 60:.0f} min.",
        "",
        "| method | W_min (ours) | W_min (paper) | GoalFraction (ours) | GoalFraction (paper) | success | s / step | OT share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        p = paper.get(row["method"])
        lines.append(
            f"| {NAMES[row['method']]} | {row['w_min']:.3f} ± {row['w_min_se']:.3f} | {p[0] if p else '-'} | "
            f"{row['goal_fraction']:.2f} ± {row['goal_fraction_se']:.2f} | {p[1] if p else '-'} | "
            f"{row['success']:.2f} | {row['step_seconds']:.3f} | {row['ot_share']:.0%} |"
        )
    return lines


def log_domain_loop(
    C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float, iters: int
) -> torch.Tensor:
    """The official solver's arithmetic, batched: ``iters`` log-domain Sinkhorn updates from zero
    potentials, zero weights masked; returns ``<P, C>`` per problem ``[B]``."""
    log_a = torch.where(a > 0, a.log(), torch.full_like(a, -torch.inf))
    log_b = torch.where(b > 0, b.log(), torch.full_like(b, -torch.inf))
    K = -C / eps
    log_u, log_v = torch.zeros_like(a), torch.zeros_like(b)
    for _ in range(iters):
        log_u = log_a - torch.logsumexp(K + log_v[:, None, :], -1)
        log_v = log_b - torch.logsumexp(K + log_u[:, :, None], -2)
    plan = torch.exp(K + log_u[:, :, None] + log_v[:, None, :])
    return (plan * C).sum((-1, -2))


def _capture(model_path: str, env_id: str, task_name: str, steps: list[int]) -> tuple[list, dict]:
    """The planner's OT batches at the given steps of one episode of ``task_name``."""
    from sb3_ot.data.envs import make_env
    from sb3_ot.planners.model import GoalModel
    from sb3_ot.planners.policy import ZILOTPolicy
    from sb3_ot.planners.tasks import make_task, reset_to_first_goal
    from sb3_ot.zilot import ZilotConfig

    model = GoalModel.load(model_path)
    cfg = ZilotConfig(env=env_id)
    task = make_task(env_id, task_name)
    env = make_env(env_id, max_episode_steps=task.max_steps)
    policy = ZILOTPolicy(model, env.observation_space, env.action_space, **cfg.planner_settings)
    policy.set_expert(task.goals)
    obs, captured = reset_to_first_goal(env, task, seed=0), []
    for k in range(max(steps) + 1):
        policy.planner.problems = [] if k in steps else None
        action, _ = policy.predict(obs)
        if k in steps:
            captured.append((k, policy.planner.problems[-1]))
        obs, *_ = env.step(action)
    env.close()
    return captured, cfg.planner_settings


def sinkhorn(args: argparse.Namespace) -> dict:
    from sb3_ot.ot import sinkhorn_matrix

    captured, settings = _capture(args.model, args.env, args.task, args.steps)
    eps, out = 0.02, []
    for k, (C, a, b) in captured:
        ours_t, ref_t = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ours = sinkhorn_matrix(C, a, b, eps=eps, tol=1e-3).cost
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = log_domain_loop(C, a, b, eps, 500)
            ref_t.append(time.perf_counter() - t0)
        rel = ((ours - ref).abs() / ref.abs().clamp(min=1e-12)).numpy()
        rank = float(
            np.corrcoef(np.argsort(np.argsort(ours.numpy())), np.argsort(np.argsort(ref.numpy())))[0, 1]
        )
        out.append(
            {
                "step": k,
                "shape": list(C.shape),
                "ours_s": statistics.median(ours_t),
                "loop_s": statistics.median(ref_t),
                "rel_mean": float(rel.mean()),
                "rel_max": float(rel.max()),
                "spearman": rank,
            }
        )
        print(out[-1], flush=True)
    return {"rows": out, "settings": settings, "env": args.env, "task": args.task}


def sinkhorn_markdown(r: dict, command: str) -> list[str]:
    lines = [
        "## ZILOT's OT solves: `sinkhorn_matrix` against the official 500-iteration loop (`benchmarks/zilot.py --sinkhorn`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}",
        "",
        f"The planner's own batched problems ({r['env']}, task {r['task']}, the cpu preset's population of "
        f"{r['settings']['population']}, horizon {r['settings']['horizon']}), captured at several steps of one "
        "episode (the real-state rows grow with the step). Costs in [0, 1], eps 0.02. Ours: "
        "`sinkhorn_matrix(C, a, b, eps=0.02, tol=1e-3)`; loop: batched log-domain Sinkhorn, 500 fixed "
        "iterations from zero potentials (the official solver's arithmetic, torch). Median of "
        "several runs each; objective `<P, C>` compared per problem.",
        "",
        "| step | batch x rows x goals | ours (s) | loop (s) | speed-up | objective diff mean / max | rank corr. |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        B, N, M = row["shape"]
        lines.append(
            f"| {row['step']} | {B} x {N} x {M} | {row['ours_s']:.4f} | {row['loop_s']:.4f} | "
            f"{row['loop_s'] / row['ours_s']:.1f}x | {row['rel_mean']:.2%} / {row['rel_max']:.2%} | {row['spearman']:.3f} |"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["FetchPush-v4"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=20, help="per method and seed")
    p.add_argument("--preset", default="cpu", choices=["cpu", "paper"])
    p.add_argument("--updates", type=int, default=None, help="goal-model updates (default: the preset's)")
    p.add_argument("--model", default=None, help="a saved goal model (--sinkhorn needs one)")
    p.add_argument("--out", default="/tmp/bench_zilot")
    p.add_argument("--sinkhorn", action="store_true", help="the OT solver against the official loop")
    p.add_argument("--env", default="FetchPush-v4", help="--sinkhorn: the model's env")
    p.add_argument("--task", default="U-dense", help="--sinkhorn: the episode's task")
    p.add_argument(
        "--steps", type=int, nargs="+", default=[1, 40, 80, 150], help="--sinkhorn: steps captured"
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--write", type=Path, default=None, help="markdown file to put the result blocks in")
    args = p.parse_args()
    command = "python benchmarks/zilot.py " + " ".join(sys.argv[1:])
    torch.set_num_threads(2)
    if args.sinkhorn:
        if args.model is None:
            p.error("--sinkhorn needs --model (a goal model of --env)")
        r = sinkhorn(args)
        if args.write:
            write_block(args.write, f"zilot_sinkhorn_{args.env}", sinkhorn_markdown(r, command), "Benchmarks")
        return
    for env in args.envs:
        r = quality(env, args)
        if args.write:
            block = f"zilot_{env}_{args.preset}"
            write_block(args.write, block, quality_markdown(r, command), "Benchmarks")


if __name__ == "__main__":
    main()
