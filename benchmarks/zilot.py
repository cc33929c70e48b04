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

**Values** (``--values``). What the goal model's values have learned, per TD target
(``GoalModelConfig.td_action``: the official policy action, the data's next action, or IQL's expectile;
each checkpoint saved under ``--out``), on FetchPush's
local data with the last 100 expert episodes held out: Spearman of ``-V(s_t0, ag_t0+k)`` with the real
steps to ``ag_t0+k`` (k = 1..30 from 5 steps before the block first moves), ``V`` 10 and 30 cm from the
block, ``-V`` over the real steps where those are 15+, and over the approach (start to first block move)
the Spearman of ``V(s_t, g)`` with ``t`` and its gain, ``g`` the block 15 steps after it first moves.

**Probe** (``--probe``). Are the Fetch tasks feasible, and inside the goal model's data? The scripted
pusher (``FetchController``) aimed at each task's next unreached goal follows every task (variant 0)
from its first goal: its W_min and GoalFraction; with ``--model``, the model's ``V(s_t, next goal)``
along those episodes (positive values are out of its data) against the steps the pusher then took.

Usage: python benchmarks/zilot.py [--envs FetchPush-v4] [--seeds 0 1 2] [--episodes 20] [--write docs/benchmarks.md]
       python benchmarks/zilot.py --sinkhorn --model sb3_ot_zilot/goal_model.pt [--write docs/benchmarks.md]
       python benchmarks/zilot.py --values --targets policy data --checkpoints 2000 5000 [--write docs/benchmarks.md]
       python benchmarks/zilot.py --probe [--env FetchPush-v4] [--model goal_model.pt] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_block  # noqa: E402

from sb3_ot.planners.model import TD_ACTIONS, GoalModel, GoalModelConfig  # noqa: E402

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
        methods=tuple(args.methods),
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
        *provenance(command),
        f"Goal model at the `{c['preset']}` preset (`sb3_ot.planners.PRESETS`, `sb3_ot.zilot.GOAL_MODEL_PRESETS`, `sb3_ot.zilot.ENV_PRESETS`), "
        f"learned offline from the env's local data; no expert of the tasks is shown. {c['n_episodes']} episodes "
        f"per method and seed over the env's tasks (each from its first goal), seeds {list(c['seeds'])}. "
        f"Model: latent {m['latent_dim']}, MLPs {m['mlp_dim']}, {m['n_q']} Q heads, {r['updates']} updates, "
        f"value scale {m['value_scale']:g}, TD target `{m.get('td_action', 'policy')}`, "
        + (f"Q and W two-hot over {m['value_bins']} bins" if m.get("value_bins") else "Q and W regressed")
        + f", values in `{m.get('value_units', 'scale')}` units"
        + (f", W at the {m['w_expectile']:g} expectile" if m.get("w_expectile", 0.5) != 0.5 else "")
        + (f" (loaded from `{c['model']}`)" if c["model"] else "")
        + f". Planner: iCEM population {s['population']}, {s['elites']} elites, "
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
        *provenance(command),
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


def _held_metrics(model, held) -> dict:
    """The ``--values`` numbers of ``model`` on the held-out expert episodes ``held``."""
    from scipy.stats import spearmanr

    vs, steps, away, approach, gain = [], [], [], [], []
    for t in held:
        ag, ob = np.asarray(t.obs["achieved_goal"]), np.asarray(t.obs["observation"])
        moved = np.flatnonzero(np.linalg.norm(ag - ag[0], axis=1) > 1e-3)
        if len(moved) == 0 or moved[0] < 5 or moved[0] + 15 >= len(ag):  # t0 = 5 steps before the move
            continue
        t0, ks = moved[0] - 5, np.arange(1, 31)
        ks = ks[t0 + ks < len(ag)]
        z = model.encode(np.repeat(ob[t0][None], len(ks), 0))
        vs += list(model.value(z, model.encode_goal(ag[t0 + ks])))
        steps += [int(np.flatnonzero(np.linalg.norm(ag[t0:] - ag[t0 + k], axis=1) < 1e-3)[0]) for k in ks]
        g = np.repeat(ag[t0][None], 2, 0) + np.array([[0.1, 0, 0], [0.3, 0, 0]], np.float32)
        away.append(model.value(model.encode(np.repeat(ob[t0][None], 2, 0)), model.encode_goal(g)))
        ts = np.arange(moved[0] + 1)
        v = model.value(
            model.encode(ob[ts]), model.encode_goal(np.repeat(ag[moved[0] + 15][None], len(ts), 0))
        )
        approach.append(spearmanr(v, ts)[0])
        gain.append(v[-1] - v[0])
    vs, steps, far = np.array(vs), np.array(steps), np.array(steps) >= 15
    return {
        "spearman": float(spearmanr(-vs, steps)[0]),
        "v10": float(np.mean(away, 0)[0]),
        "v30": float(np.mean(away, 0)[1]),
        "ratio15": float(np.median(-vs[far] / steps[far])),
        "approach": float(np.nanmean(approach)),
        "gain": float(np.mean(gain)),
    }


def values(args: argparse.Namespace) -> list[dict]:
    """One goal model per TD target (the ``cpu`` preset's sizes), trained to each of ``args.checkpoints``."""
    from sb3_ot.data import load_trajectories
    from sb3_ot.datasets import build_dataset
    from sb3_ot.zilot import ENV_PRESETS, ZilotConfig, interleave

    cfg = ZilotConfig(env="FetchPush-v4", goal_model=dict(args.set))  # --set: checked by ZilotConfig
    env, sizes = cfg.env, cfg.model_settings
    parts = {
        kind: load_trajectories(build_dataset(env, kind, steps=cfg.dataset_steps))
        for kind in ENV_PRESETS[env]["kinds"]
    }
    held, parts["expert"] = parts["expert"][-100:], parts["expert"][:-100]
    data = interleave(list(parts.values()))
    rows = []
    for target in args.targets:
        model, done, t0 = (
            GoalModel(env_id=env, seed=0, td_action=target, expectile=args.expectile, **sizes),
            0,
            time.perf_counter(),
        )
        label = f"expectile {args.expectile:g}" if target == "expectile" else target
        for n in sorted(args.checkpoints):
            path = Path(args.out) / f"values_{label.replace(' ', '')}_{n}.pt"  # for sb3-ot zilot --model
            if args.reuse and path.is_file():  # measured again, not retrained: no minutes
                model, done, minutes = GoalModel.load(path), n, float("nan")
            else:
                model.fit(data, n_updates=n - done, progress=False)
                done, minutes = n, (time.perf_counter() - t0) / 60
                model.save(path)
            rows.append({"target": label, "updates": n, "minutes": minutes,
                         "td_steps": model.history[-1]["td_steps"], **_held_metrics(model, held)})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def values_markdown(rows: list[dict], command: str) -> list[str]:
    lines = [
        "## ZILOT's goal-model values by TD target (`benchmarks/zilot.py --values`)",
        *provenance(command),
        "FetchPush-v4 local data (expert + medium + random, 100k steps each, interleaved; gripper, block and "
        "goal over the table, episodes ending when the block falls off it), the last 100 expert episodes "
        "held out; the `cpu` preset's sizes, seed 0. Columns as the script's docstring says (values in env "
        "steps); docs/zilot.md reads them.",
        "",
        "| TD target | updates | Spearman(-V, steps) | V 10 / 30 cm | -V / steps (15+) | approach Spearman, gain | mean TD target (steps) | minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        minutes = "-" if np.isnan(r["minutes"]) else f"{r['minutes']:.1f}"  # "-": a reused checkpoint
        lines.append(
            f"| {r['target']} | {r['updates']:,} | {r['spearman']:.2f} | {r['v10']:.1f} / {r['v30']:.1f} | "
            f"{r['ratio15']:.2f} | {r['approach']:.2f}, {r['gain']:.1f} | {r['td_steps']:.1f} | {minutes} |"
        )
    return lines


REACH = 0.6  # --probe: the follower moves on to the next goal within 0.6 thresholds (Fetch: 3 cm)


def _scripted_follower(env, task, model):
    """The env's scripted expert (the pusher; the maze's waypoint controller) aimed at the task's next
    unreached goal, as a ``policy_fn`` for ``run_task``; it logs ``(step, goal index, V(s, that goal))``
    in ``.log`` and ``(observation dict, action)`` in ``.steps``."""
    from sb3_ot.datasets.scripted import controller_for

    controller, rng, state = controller_for(env), np.random.default_rng(0), {"j": 1, "t": 0}
    goals, reach = task.goals, REACH * task.threshold

    def act(obs):
        j, t = state["j"], state["t"]
        while j < len(goals) - 1 and np.linalg.norm(obs["achieved_goal"] - goals[j]) < reach:
            j += 1
        if model is not None:
            z, zg = model.encode(obs["observation"][None]), model.encode_goal(goals[j][None])
            act.log.append((t, j, float(model.value(z, zg)[0])))
        state["j"], state["t"] = j, t + 1
        action = controller({**obs, "desired_goal": goals[j]}, t, rng)
        act.steps.append((obs, action))
        return action

    act.log, act.steps = [], []
    return act


HORIZON_STEPS = (1, 4, 16)  # --probe: where the model's rollout is compared with the real states


def _rollout_gap(model, steps: list, log: list, goals: np.ndarray) -> dict:
    """``|V(f_h, g) - V(s_t+h, g)|`` (env steps) of the model's latent rollout ``f_h`` of the pusher's own
    actions from ``s_t`` against the real states, every 8 steps ``t``, ``g`` the goal aimed at at ``t``."""
    obs = np.stack([o["observation"] for o, _ in steps]).astype(np.float32)
    acts = np.stack([a for _, a in steps]).astype(np.float32)
    gaps, H = {h: [] for h in HORIZON_STEPS}, max(HORIZON_STEPS)
    for t in range(0, len(steps) - H, 8):
        g = model.encode_goal(np.repeat(goals[log[t][1]][None], H, 0))
        f, preds = model.encode(obs[t]), []
        for h in range(H):
            f = model.next(f, acts[t + h])
            preds.append(f)
        pred = model.value(np.stack(preds), g)
        real = model.value(model.encode(obs[t + 1 : t + H + 1]), g)
        for h in HORIZON_STEPS:
            gaps[h].append(float(abs(pred[h - 1] - real[h - 1])))
    return {f"gap{h}": float(np.mean(v)) if v else float("nan") for h, v in gaps.items()}


def _w_ratio(model, goals: np.ndarray, near: np.ndarray) -> float:
    """``sum -W(g_j, g_j+1) / sum (real steps from reaching g_j to reaching g_j+1)`` over the goals the
    follower reached in order: what sets ZILOT's goal window (``near [T, n_goals]``: within reach)."""
    first = [int(np.argmax(near[:, j])) if near[:, j].any() else -1 for j in range(len(goals))]
    zg = model.encode_goal(goals.astype(np.float32))
    w = -model.goal_value(zg[:-1], zg[1:])
    pairs = [j for j in range(len(goals) - 1) if 0 <= first[j] <= first[j + 1]]
    real = sum(first[j + 1] - first[j] for j in pairs)
    return float(sum(max(w[j], 0.0) for j in pairs) / real) if real else float("nan")


def refit_w(args: argparse.Namespace) -> str:
    """``--model`` with its ``W`` refitted alone (``GoalModel.fit_w``, expectile ``--refit-w``) on its env's
    local data, saved in ``--out``; returns the new file's path."""
    from sb3_ot.zilot import ZilotConfig, _load_data

    model = GoalModel.load(args.model)
    data = _load_data(ZilotConfig(env=model.env_id), print)
    model.fit_w(data, n_updates=args.refit_updates, w_expectile=args.refit_w)
    path = Path(args.out) / f"{Path(args.model).stem}_w{args.refit_w:g}.pt"
    model.save(path)
    print(f"W refitted ({args.refit_updates} updates, expectile {args.refit_w:g}): {path}")
    return str(path)


def probe(args: argparse.Namespace) -> tuple[str, list[dict]]:
    """Per task: the env's scripted expert following the task from its first goal (are the tasks
    feasible?), and the goal model's ``V`` and ``W`` along those episodes (are they inside its data?)."""
    from scipy.stats import spearmanr

    from sb3_ot.data.envs import make_env
    from sb3_ot.planners.tasks import make_task, run_task, task_names

    model = GoalModel.load(args.model) if args.model else None
    env_id = model.env_id if model is not None else args.env
    rows = []
    for name in task_names(env_id):
        task = make_task(env_id, name, 0)
        env = make_env(env_id, max_episode_steps=task.max_steps)
        follower = _scripted_follower(env, task, model)
        row = {"task": name, **run_task(env, follower, task, seed=0)}
        env.close()
        if model is not None:  # steps to go: until the achieved goal is within reach of that goal
            ags = np.array([o["achieved_goal"] for o, _ in follower.steps])
            near = np.linalg.norm(ags[:, None] - task.goals[None], axis=-1) < REACH * task.threshold
            # the goals still ahead (not within reach now) that the expert then reached
            log = [(t, j, v) for t, j, v in follower.log if near[t + 1 :, j].any() and not near[t, j]]
            togo = np.array([np.argmax(near[t:, j]) for t, j, _ in log], float)  # >= 1
            v = np.array([v for *_, v in follower.log])
            vr = np.array([v for *_, v in log])
            row |= {"v_pos": float((v > 0).mean()), "v_median": float(np.median(v)),
                    "spearman": float(spearmanr(-vr, togo)[0]) if len(vr) > 2 else float("nan"),
                    "togo_median": float(np.median(togo)) if len(togo) else float("nan"),
                    "w_ratio": _w_ratio(model, task.goals, near),
                    **_rollout_gap(model, follower.steps, follower.log, task.goals)}  # fmt: skip
        rows.append(row)
        print(row, flush=True)
    return env_id, rows


def value_map(model_path: str, out: Path) -> None:
    """PNG of a Fetch model's ``V(s, g)`` over the gripper's xy (at the block's height) on L-dense's first
    step in its env: the block on goal 0, ``g`` goal 1, 7 cm along +x; the pusher must go behind it (-x
    side), the picker to it. FetchPickAndPlace gets a second panel with the fingers open (5 cm each, as
    the scripted picker approaches) instead of as at reset (closed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sb3_ot.data.envs import make_env
    from sb3_ot.planners.tasks import make_task, reset_to_first_goal

    m = GoalModel.load(model_path)
    task = make_task(m.env_id, "L-dense", 0)
    o, g = reset_to_first_goal(make_env(m.env_id), task, seed=0)["observation"], task.goals[1]
    X, Y = np.meshgrid(np.linspace(0.95, 1.75, 41), np.linspace(0.3, 1.1, 41))
    fingers = (None, 0.05) if m.env_id.startswith("FetchPickAndPlace") else (None,)
    fig, axes = plt.subplots(1, len(fingers), figsize=(5 * len(fingers), 4.5), squeeze=False)
    for ax, finger in zip(axes[0], fingers, strict=True):
        obs = np.repeat(o[None], X.size, 0)
        obs[:, 0], obs[:, 1], obs[:, 2] = X.ravel(), Y.ravel(), o[5]
        obs[:, 6:9] = obs[:, 3:6] - obs[:, 0:3]  # the block relative to the gripper, as the env's obs
        if finger is not None:
            obs[:, 9:11] = finger
        v = m.value(m.encode(obs.astype(np.float32)), m.encode_goal(np.repeat(g[None], X.size, 0)))
        fig.colorbar(ax.pcolormesh(X, Y, v.reshape(X.shape), shading="auto"), ax=ax, label="V (env steps)")
        ax.plot(o[3], o[4], "rs", label="block")
        ax.plot(g[0], g[1], "w*", ms=12, label="goal")
        ax.plot(o[0], o[1], "k^", label="gripper at reset")
        ax.add_patch(plt.Rectangle((1.05, 0.40), 0.5, 0.7, fill=False, ls=":", ec="gray", label="table"))
        state = "fingers as at reset" if finger is None else f"fingers open ({finger * 100:g} cm each)"
        ax.set(title=f"{Path(model_path).name}: {state}", xlabel="gripper x", ylabel="gripper y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"value map: {out}", flush=True)


def probe_markdown(rows: list[dict], command: str, model: str | None, env_id: str) -> list[str]:
    from sb3_ot.datasets.scripted import controller_name

    lines = [
        f"## ZILOT's {env_id} tasks followed by the scripted expert (`benchmarks/zilot.py --probe`)",
        *provenance(command),
        f"`{controller_name(env_id)}` aimed at each task's next unreached goal ({REACH:g} x the threshold "
        "counts as reached), variant 0, from the first goal (`reset_to_first_goal`), the task's whole "
        "budget: W_min and GoalFraction as the methods'. "
        + (
            f"Along the same episodes, the goal model `{model}`'s `V(s_t, next goal)` (env steps; a real "
            "value is <= 0): the share of steps where it is positive, its median, and its Spearman with "
            "the steps the expert then took to that goal; the model's rollout error: "
            "`|V(f_h, g) - V(s_t+h, g)|` (env steps, mean over starts every 8 steps) of its latent "
            "rollout `f_h` of the expert's own actions against the real states, h = 1 / 4 / 16; and "
            "`W / real`: the sum of `-W(g_j, g_j+1)` over the steps the expert took between them (what "
            "sets ZILOT's goal window; 1 is right, below 1 lets in goals it cannot reach yet)."
            if model
            else ""
        ),
        "",
        "| task | W_min | GoalFraction | steps | V > 0 | median V | Spearman(-V, steps to go) | median steps to go | rollout error h = 1 / 4 / 16 | W / real |"
        if model
        else "| task | W_min | GoalFraction | steps |",
        "|---|---|---|---|---|---|---|---|---|---|" if model else "|---|---|---|---|",
    ]
    for r in rows:
        cells = f"| {r['task']} | {r['w_min']:.3f} | {r['goal_fraction']:.2f} | {r['steps']} |"
        if model:
            cells += (
                f" {r['v_pos']:.0%} | {r['v_median']:.1f} | {r['spearman']:.2f} | {r['togo_median']:.0f} |"
                f" {r['gap1']:.1f} / {r['gap4']:.1f} / {r['gap16']:.1f} | {r['w_ratio']:.2f} |"
            )
        lines.append(cells)
    return lines


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set``, the value read as YAML (``6`` an int, ``data`` a string)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["FetchPush-v4"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=20, help="per method and seed")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["zilot", "mpc+cls", "pi+cls"],
        choices=list(NAMES),
        help="which to run",
    )
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
    p.add_argument("--values", action="store_true", help="the goal model's values by TD target")
    p.add_argument(
        "--targets",
        nargs="+",
        default=["policy", "data"],
        choices=TD_ACTIONS,
        help="--values: td_action values",
    )
    p.add_argument("--checkpoints", type=int, nargs="+", default=[2000], help="--values: updates")
    p.add_argument(
        "--expectile",
        type=float,
        default=GoalModelConfig.expectile,
        help="--values: the expectile target's tau",
    )
    p.add_argument("--tag", default="", help="appended to the result block's name")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        type=_setting,
        metavar="KEY=VALUE",
        help="--values: GoalModelConfig overrides (e.g. n_steps=6)",
    )
    p.add_argument("--reuse", action="store_true", help="--values: load the checkpoints already in --out")
    p.add_argument(
        "--refit-w",
        type=float,
        default=None,
        metavar="TAU",
        help="refit --model's W alone with this expectile (GoalModel.fit_w) first, then run on that model",
    )
    p.add_argument("--refit-updates", type=int, default=3000, help="--refit-w: W updates")
    p.add_argument("--probe", action="store_true", help="the scripted expert on the tasks (+ V, W)")
    p.add_argument("--plot", type=Path, default=None, help="--probe: PNG of V over the gripper's xy")
    p.add_argument("--write", type=Path, default=None, help="markdown file to put the result blocks in")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1: two runs side by side)")
    args = p.parse_args()
    command = "python benchmarks/zilot.py " + " ".join(sys.argv[1:])
    torch.set_num_threads(args.threads)
    if args.values:
        if {key for key, _ in args.set} & {"td_action", "expectile"}:
            p.error("--set: the TD target and its expectile come from --targets and --expectile")
        torch.set_num_threads(1)
        rows = values(args)
        if args.write:
            extra = "" if args.targets == ["policy", "data"] else "_" + "-".join(args.targets)  # own block
            extra += (
                f"_tau{args.expectile:g}"
                if "expectile" in args.targets and args.expectile != GoalModelConfig.expectile
                else ""
            )
            extra += f"_{args.tag}" if args.tag else ""
            write_block(
                args.write, f"zilot_values_FetchPush-v4{extra}", values_markdown(rows, command), "Benchmarks"
            )
        return
    if args.refit_w is not None:
        if args.model is None:
            p.error("--refit-w needs --model (the goal model whose W is refitted)")
        args.model = refit_w(args)
    if args.probe:
        if args.plot and (args.model is None or not GoalModel.load(args.model).env_id.startswith("Fetch")):
            p.error("--probe --plot draws a Fetch env's L-dense value map: give a Fetch --model")
        env, rows = probe(args)
        if args.plot:
            value_map(args.model, args.plot)
        if args.write:
            write_block(
                args.write,
                f"zilot_probe_{env}" + (f"_{args.tag}" if args.tag else ""),
                probe_markdown(rows, command, args.model, env),
                "Benchmarks",
            )
        return
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
            block = f"zilot_{env}_{args.preset}" + (f"_{args.tag}" if args.tag else "")
            write_block(args.write, block, quality_markdown(r, command), "Benchmarks")


if __name__ == "__main__":
    main()
