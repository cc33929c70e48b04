"""ZILOT's first plan on each Fetch task, in the goal model's imagination and in the real env (issue 15).

Why do the planners rarely move the block? At each task's first step (variant 0, from its first goal),
three ``H``-step action sequences: the scripted expert's first ``H`` actions, and the best sequence of
MPC+Cls and of ZILOT (``Planner.tracks[i].plan``, at the env's ``cpu`` planner settings). Each is rolled
out in the goal model (the *imagined* ``V(z_H, g1)``, ``g1`` the next goal) and replayed in the env from
the same start (the *real* ``V(s_H, g1)``: the model's value of the real state it reaches), with the
gripper's distance to the block before and after and the block's displacement. A planner whose choice
is imagined better than the expert's but is worse for real exploits the model; one whose choice is
better than the expert's for real as well is misled by ``V`` itself.

Usage: python benchmarks/zilot_plans.py --model goal_model.pt [--set population=512 ...] [--write docs/benchmarks.md] [--tag TAG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_block  # noqa: E402
from zilot import _scripted_follower, _setting  # noqa: E402

from sb3_ot.data.envs import make_env  # noqa: E402
from sb3_ot.planners.model import GoalModel  # noqa: E402
from sb3_ot.planners.planner import Planner  # noqa: E402
from sb3_ot.planners.tasks import make_task, reset_to_first_goal, run_task, task_names  # noqa: E402
from sb3_ot.zilot import ZilotConfig  # noqa: E402

METHODS = ("mpc+cls", "zilot")


def sequences(model: GoalModel, task, settings: dict) -> dict[str, np.ndarray]:
    """``[H, A]`` per source: the scripted expert's first ``H`` actions and each planner's first plan."""
    H = settings["horizon"]
    env = make_env(model.env_id, max_episode_steps=task.max_steps)
    follower = _scripted_follower(env, task, None)
    run_task(env, follower, task, seed=0)
    seqs = {"expert": np.stack([a for _, a in follower.steps[:H]]).astype(np.float32)}
    for method in METHODS:
        obs = reset_to_first_goal(env, task, 0)
        planner = Planner(model, method=method, seed=0, **settings)
        planner.reset(0, task.goals)
        planner.act(obs["observation"][None])
        seqs[method] = planner.tracks[0].plan.cpu().numpy()
    env.close()
    return seqs


def outcome(model: GoalModel, task, seq: np.ndarray) -> dict[str, float]:
    """``seq [H, A]`` from the task's start: imagined and real ``V(., g1)`` after it (env steps), the
    gripper-block distance before (``d0``) and after (``d1``), the block's displacement (m)."""
    env = make_env(model.env_id, max_episode_steps=task.max_steps)
    obs = reset_to_first_goal(env, task, 0)
    g1 = model.encode_goal(task.goals[1][None].astype(np.float32))
    z, d0, block0 = (
        model.encode(obs["observation"][None]),
        np.linalg.norm(obs["observation"][6:9]),
        obs["achieved_goal"],
    )
    for a in seq:
        z = model.next(z, a[None])
        obs, *_ = env.step(a)
    env.close()
    real = model.value(model.encode(obs["observation"][None].astype(np.float32)), g1)
    return {
        "imagined": float(model.value(z, g1)[0]),
        "real": float(real[0]),
        "d0": float(d0),
        "d1": float(np.linalg.norm(obs["observation"][6:9])),
        "moved": float(np.linalg.norm(obs["achieved_goal"] - block0)),
    }


def run(model_path: str, overrides: dict) -> tuple[str, dict, list[dict]]:
    torch.set_grad_enabled(False)
    model = GoalModel.load(model_path)
    settings = ZilotConfig(env=model.env_id, planner=overrides).planner_settings
    rows = []
    for name in task_names(model.env_id):
        task = make_task(model.env_id, name, 0)
        for source, seq in sequences(model, task, settings).items():
            rows.append({"task": name, "source": source, **outcome(model, task, seq)})
            print(rows[-1], flush=True)
    return model.env_id, settings, rows


def markdown(env_id: str, settings: dict, rows: list[dict], command: str, model: str) -> list[str]:
    lines = [
        f"## ZILOT's first plans on {env_id}, imagined and real (`benchmarks/zilot_plans.py`)",
        *provenance(command),
        f"Goal model `{model}`. At each task's first step (variant 0): the scripted expert's first "
        f"{settings['horizon']} actions and each planner's best {settings['horizon']}-step sequence "
        f"(iCEM population {settings['population']}, {settings['iterations']} iterations). `V(., g1)` (env "
        "steps to the next goal; higher is nearer) after the sequence: imagined (the model's rollout) and "
        "real (the model's value of the state the env reaches); the gripper's distance to the block "
        "before -> after (m); the block's displacement (m).",
        "",
        "| task | sequence | imagined V | real V | imagined - real | gripper-block | block moved |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['source']} | {r['imagined']:.1f} | {r['real']:.1f} | "
            f"{r['imagined'] - r['real']:+.1f} | {r['d0']:.2f} -> {r['d1']:.2f} | {r['moved']:.3f} |"
        )
    lines += [
        "",
        "| sequence | mean imagined V | mean real V | mean imagined - real | ends nearer the block |",
    ]
    lines.append("|---|---|---|---|---|")
    for source in ("expert", *METHODS):
        rs = [r for r in rows if r["source"] == source]
        imagined, real = np.mean([r["imagined"] for r in rs]), np.mean([r["real"] for r in rs])
        nearer = sum(r["d1"] < r["d0"] for r in rs)
        lines.append(
            f"| {source} | {imagined:.1f} | {real:.1f} | {imagined - real:+.1f} | {nearer} / {len(rs)} |"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a Fetch goal model (GoalModel.save)")
    p.add_argument("--write", type=Path, default=None, help="markdown file to put the result block in")
    p.add_argument("--tag", default="", help="appended to the result block's name")
    p.add_argument(
        "--set", type=_setting, action="append", default=[], metavar="KEY=VALUE", help="a planner setting"
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    if not GoalModel.load(args.model).env_id.startswith("Fetch"):
        p.error(
            "--model must be a Fetch goal model (the gripper and the block are read from its observation)"
        )
    env_id, settings, rows = run(args.model, dict(args.set))
    command = "python benchmarks/zilot_plans.py " + " ".join(sys.argv[1:])
    text = markdown(env_id, settings, rows, command, args.model)
    print("\n".join(text))
    if args.write:
        block = f"zilot_plans_{env_id}" + (f"_{args.tag}" if args.tag else "")
        write_block(args.write, block, text, "Benchmarks")


if __name__ == "__main__":
    main()
