"""sb3-ot: optimal-transport imitation for Gymnasium, Stable-Baselines3 and d3rlpy."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable


def _couple(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np
    import torch

    from sb3_ot import ot
    from sb3_ot.data import rollout, sinusoidal_policy
    from sb3_ot.ot.plot import plot_coupling

    env = gym.make(args.env)
    expert = rollout(
        env, sinusoidal_policy(env.action_space, seed=args.seed), max_steps=args.steps, seed=args.seed
    )
    agents = {
        "same gait, noisy": sinusoidal_policy(env.action_space, seed=args.seed, noise=0.3),
        "other gait": sinusoidal_policy(env.action_space, seed=args.seed + 1),
        "random actions": None,
    }
    e_obs = expert[0].observations().astype(np.float32)
    scale = e_obs.std(0) + 1e-6
    y = torch.from_numpy(e_obs / scale)
    x = torch.stack(
        [
            torch.from_numpy(
                rollout(env, pol, max_steps=args.steps, seed=args.seed + 7)[0]
                .observations()
                .astype(np.float32)
                / scale
            )
            for pol in agents.values()
        ]
    )
    eps = args.eps * float(ot.cost_matrix(x, y).max())
    t0 = time.perf_counter()
    res = ot.sinkhorn(x, y, eps=eps, return_plan=True)
    secs = time.perf_counter() - t0
    print(
        f"{args.env}: {len(agents)} agent trajectories vs one expert, {x.shape[1]} x {y.shape[0]} points, "
        f"D={x.shape[2]}, eps={args.eps:g} x max cost"
    )
    print(f"{'agent':<20} {'OT cost':>10} {'mean row cost':>14}")
    for k, name in enumerate(agents):
        print(f"{name:<20} {float(res.cost[k]):>10.3f} {float(res.row_cost[k].mean()):>14.5f}")
    print(
        f"solved in {secs * 1e3:.0f} ms ({res.n_iters} iterations, marginal error {res.marginal_error:.1e}, "
        f"{res.backend})"
    )
    path = plot_coupling(res.plan[0], res.row_cost[0], args.out, title=f"{args.env}: noisy expert vs expert")
    print(f"coupling plot: {path}")
    env.close()
    return 0


def _dataset_build(args: argparse.Namespace) -> int:
    from sb3_ot.datasets import build_dataset, dataset_info

    ds = build_dataset(
        args.env,
        args.kind,
        steps=args.steps,
        seed=args.seed,
        algo=args.algo,
        expert_steps=args.expert_steps,
        overwrite=args.overwrite,
        data_path=args.data_path,
        progress=not args.quiet,
    )
    _print_info(dataset_info(ds))
    return 0


def _dataset_list(args: argparse.Namespace) -> int:
    from sb3_ot.datasets import dataset_info, list_datasets

    ids = list_datasets(args.data_path)
    if not ids:
        print("no sb3-ot datasets yet; build one with: sb3-ot dataset build Pendulum-v1 --kind medium-replay")
        return 0
    print(f"{'dataset':<48} {'episodes':>8} {'steps':>9} {'mean return':>12} {'normalized':>10}")
    for did in ids:
        i = dataset_info(did, args.data_path)
        print(
            f"{did:<48} {i['episodes']:>8} {i['steps']:>9} {i['return_mean']:>12.1f} "
            f"{i.get('normalized_score', float('nan')):>10.1f}"
        )
    return 0


def _print_info(info: dict) -> None:
    build = info.pop("build", None)
    for key, value in info.items():
        print(f"{key:<16} {value:.4g}" if isinstance(value, float) else f"{key:<16} {value}")
    if build is not None:
        print(f"{'made by':<16} {build.get('policy')}")
        print(f"{'settings':<16} {build.get('settings')}")
        print(f"{'build seconds':<16} {build.get('build_seconds', float('nan')):.1f}")


def _dataset_info(args: argparse.Namespace) -> int:
    import json

    from sb3_ot.datasets import dataset_info

    info = dataset_info(args.id, args.data_path)
    if args.json:
        print(json.dumps(info, indent=1, sort_keys=True))
    else:
        _print_info(info)
    return 0


def _dataset_suite(args: argparse.Namespace) -> int:
    from sb3_ot.datasets import build_suite

    times = build_suite(args.name, seed=args.seed, data_path=args.data_path, progress=not args.quiet)
    for did, secs in times.items():
        print(f"{did:<48} {secs:>8.0f} s")
    print(f"suite {args.name!r}: {sum(times.values()) / 60:.1f} min")
    return 0


def imitate_config(args: argparse.Namespace):
    """The :class:`~sb3_ot.imitate.ImitateConfig` that ``sb3-ot imitate`` arguments describe."""
    from sb3_ot.imitate import ImitateConfig

    default = ImitateConfig()
    overrides = {
        "env": args.env,
        "dataset": args.dataset,
        "experts": args.experts,
        "steps": args.steps,
        "eval_every": args.eval_every,
        "out_dir": args.out,
        "data_path": args.data_path,
        "rewarders": tuple(args.rewarder) if args.rewarder else None,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "dataset_steps": args.dataset_steps,
        "expert_steps": args.expert_steps,
        "device": args.device,
    }
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if args.env is not None and args.env != default.env:  # the embedded sizes belong to the default env
        kwargs.setdefault("dataset_steps", None)
        kwargs.setdefault("expert_steps", None)
    return ImitateConfig(**kwargs, wandb=args.wandb, progress=not args.quiet)


def _main_job(args: argparse.Namespace, command: str, make_config: Callable, run: str) -> int:
    """Check every setting (exit 2 with the error) before any dataset is built or model trained, then
    run ``run`` (``"module:function"``) on the config with d3rlpy's epoch logs quieted."""
    try:
        cfg = make_config(args)
    except ValueError as err:
        print(f"sb3-ot {command}: error: {err}", file=sys.stderr)
        return 2
    from sb3_ot.integrations.d3rlpy import quiet_d3rlpy_logs

    quiet_d3rlpy_logs()
    module, name = run.split(":")
    getattr(importlib.import_module(module), name)(cfg)
    return 0


def _imitate(args: argparse.Namespace) -> int:
    return _main_job(args, "imitate", imitate_config, "sb3_ot.imitate:run_imitate")


def dream_config(args: argparse.Namespace):
    """The :class:`~sb3_ot.dream.DreamConfig` that ``sb3-ot dream`` arguments describe."""
    from sb3_ot.dream import DreamConfig, preset

    overrides = {
        "dataset": args.dataset,
        "experts": args.experts,
        "rewards": tuple(args.reward) if args.reward else None,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "wm_updates": args.wm_updates,
        "wm_consistency": args.wm_consistency,
        "wm_inverse": args.wm_inverse,
        "ppo_steps": args.ppo_steps,
        "horizon": args.horizon,
        "bc_steps": args.bc_steps,
        "penalty": args.penalty,
        "bc_coef": args.bc_coef,
        "starts": args.starts,
        "world_model": args.world_model,
        "dataset_steps": args.dataset_steps,
        "expert_steps": args.expert_steps,
        "out_dir": args.out,
        "data_path": args.data_path,
        "device": args.device,
    }
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    base = preset(args.env or DreamConfig.env, pixels=args.pixels)  # the env's measured settings
    return DreamConfig(**(base | kwargs), wandb=args.wandb, progress=not args.quiet)


def _dream(args: argparse.Namespace) -> int:
    return _main_job(args, "dream", dream_config, "sb3_ot.dream:run_dream")


def _add_dream_settings(p: argparse.ArgumentParser) -> None:
    """``sb3-ot dream``'s training budgets and each method's overridable settings."""
    p.add_argument("--wm-updates", type=int, default=None, help="world-model updates")
    p.add_argument(
        "--wm-consistency",
        type=float,
        default=None,
        help="the world model's latent-consistency weight (default 20; pixels: 200 measured better)",
    )
    p.add_argument(
        "--wm-inverse", type=float, default=None, help="the world model's inverse-dynamics weight (default 0)"
    )
    p.add_argument("--ppo-steps", type=int, default=None, help="imagined env steps of PPO per seed")
    p.add_argument(
        "--horizon", type=int, default=None, help="steps of an imagined episode (default 15, DITTO's)"
    )
    p.add_argument("--bc-steps", type=int, default=None, help="BC / D-BC updates")
    p.add_argument(
        "--penalty",
        type=float,
        default=None,
        help="reward minus PENALTY x the model's uncertainty (default: the reward's own, CMIL 10, others 0)",
    )
    p.add_argument(
        "--bc-coef",
        type=float,
        default=None,
        help="add BC_COEF x the BC loss on expert latents to PPO's updates (default: CMIL 10, others 0)",
    )
    p.add_argument(
        "--starts",
        default=None,
        choices=["expert", "data"],
        help="where imagined episodes start (default: the reward's own, CMIL data, others expert)",
    )


def _add_dream_command(sub: argparse._SubParsersAction) -> None:
    from sb3_ot.datasets.kinds import KINDS

    p = sub.add_parser(
        "dream",
        help="fit a world model, train SB3 PPO only in imagination (DITTO / OT rewards), score it in the real env",
    )
    p.add_argument(
        "env", nargs="?", default=None, metavar="ENV", help="Gymnasium env id (default Pendulum-v1)"
    )
    p.add_argument(
        "--reward",
        nargs="+",
        choices=["ditto", "ailot", "otr", "cmil", "gail"],
        default=None,
        help="default ditto; cmil: discriminator - 10 u + 10 BC (CMIL's); gail: D-GAIL",
    )
    p.add_argument("--dataset", default=None, choices=KINDS, help="the world model's data (default random)")
    p.add_argument("--experts", type=int, default=None, help="number of expert demonstrations (default 10)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    _add_dream_settings(p)
    p.add_argument("--world-model", default=None, help="a saved world model to use instead of fitting one")
    p.add_argument(
        "--pixels",
        action="store_true",
        help="learn and act from the env's frames (64x64 grayscale, 3 stacked; CNN world model and BC)",
    )
    p.add_argument("--dataset-steps", type=int, default=None, help="transitions per dataset kind")
    p.add_argument("--expert-steps", type=int, default=None, help="expert training steps")
    p.add_argument("--data-path", default=None)
    p.add_argument("--out", default=None, help="output folder (world model, PNGs, results.json)")
    p.add_argument("--device", default=None, help="torch device for the world model and PPO (default cpu)")
    p.add_argument(
        "--wandb", action="store_true", help="log to wandb (offline unless WANDB_MODE says otherwise)"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_dream)


def zilot_config(args: argparse.Namespace):
    """The :class:`~sb3_ot.zilot.ZilotConfig` that ``sb3-ot zilot`` arguments describe."""
    from sb3_ot.zilot import ZilotConfig

    overrides = {
        "env": args.env,
        "tasks": tuple(args.task) if args.task else None,
        "methods": tuple(args.method) if args.method else None,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "n_episodes": args.episodes,
        "preset": args.preset,
        "dataset_steps": args.dataset_steps,
        "n_updates": args.updates,
        "model": args.model,
        "out_dir": args.out,
        "data_path": args.data_path,
        "device": args.device,
    }
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if args.config is not None:
        from sb3_ot.zilot import read_config_file

        kwargs |= read_config_file(args.config, args.env or ZilotConfig.env)
    return ZilotConfig(**kwargs, wandb=args.wandb, progress=not args.quiet)


def _zilot(args: argparse.Namespace) -> int:
    return _main_job(args, "zilot", zilot_config, "sb3_ot.zilot:run_zilot")


def _add_zilot_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "zilot",
        help="learn a goal model offline, then follow the paper's goal sequences zero-shot with ZILOT and baselines",
    )
    p.add_argument(
        "env",
        nargs="?",
        default=None,
        metavar="ENV",
        help="FetchPush-v4 (default), FetchPickAndPlace-v4 or PointMaze_Medium-v3",
    )
    p.add_argument(
        "--task", nargs="+", default=None, help="task names (default: all; Fetch S-dense ... U-sparse)"
    )
    p.add_argument("--method", nargs="+", choices=["zilot", "mpc+cls", "pi+cls"], default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--episodes", type=int, default=None, help="episodes per method and seed (default 20)")
    p.add_argument(
        "--preset", choices=["cpu", "paper"], default=None, help="model and planner sizes (default cpu)"
    )
    p.add_argument("--updates", type=int, default=None, help="goal-model updates (default: the preset's)")
    p.add_argument("--model", default=None, help="a saved GoalModel to use instead of training one")
    p.add_argument(
        "--config", default=None, help="a zoo-style YAML file of per-env settings (zoo_configs/zilot.yml)"
    )
    p.add_argument("--dataset-steps", type=int, default=None, help="transitions per dataset kind")
    p.add_argument("--data-path", default=None)
    p.add_argument("--out", default=None, help="output folder (goal model, paths.png, results.json)")
    p.add_argument("--device", default=None, help="torch device for the goal model and planner (default cpu)")
    p.add_argument(
        "--wandb", action="store_true", help="log to wandb (offline unless WANDB_MODE says otherwise)"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_zilot)


def _add_dataset_commands(sub: argparse._SubParsersAction) -> None:
    from sb3_ot.datasets.kinds import KINDS, SUITES

    p = sub.add_parser("dataset", help="build and inspect local D4RL-style Minari datasets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-path",
        default=None,
        help="Minari datasets root (default: $MINARI_DATASETS_PATH or ~/.minari/datasets)",
    )

    b = dsub.add_parser("build", parents=[common], help="build (or reuse) sb3_ot/<ENV>/<KIND>-v0")
    b.add_argument(
        "env", metavar="ENV", help="Gymnasium env id, e.g. Pendulum-v1, HalfCheetah-v5, PointMaze_Medium-v3"
    )
    b.add_argument("--kind", default="medium-replay", choices=KINDS)
    b.add_argument("--steps", type=int, default=None, help="transitions of random/medium/expert data")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument(
        "--algo", default=None, choices=["sac", "td3", "ppo"], help="expert algorithm (default sac)"
    )
    b.add_argument("--expert-steps", type=int, default=None, help="expert training steps (default: per env)")
    b.add_argument("--overwrite", action="store_true", help="rebuild even if it exists")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_dataset_build)

    ls = dsub.add_parser("list", parents=[common], help="list the local sb3-ot datasets")
    ls.set_defaults(func=_dataset_list)

    i = dsub.add_parser("info", parents=[common], help="episodes, steps, returns and reference scores of ID")
    i.add_argument("id", metavar="ID", help="dataset id, e.g. sb3_ot/Pendulum-v1/medium-replay-v0")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_dataset_info)

    s = dsub.add_parser("suite", parents=[common], help="build every dataset of a benchmark suite")
    s.add_argument("--name", default="small", choices=sorted(SUITES))
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_dataset_suite)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sb3-ot", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser(
        "couple", help="OT coupling between agent and expert trajectories of an env (PNG + costs)"
    )
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument(
        "--eps", type=float, default=1e-2, help="entropic regularisation as a fraction of the max cost"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="sb3_ot_coupling.png")
    p.set_defaults(func=_couple)

    im = sub.add_parser(
        "imitate", help="the main job: OT-relabel a dataset from a few expert demos, train IQL, score it"
    )
    im.add_argument(
        "env", nargs="?", default=None, metavar="ENV", help="Gymnasium env id (default: embedded run)"
    )
    im.add_argument("--dataset", default=None, help="dataset kind (default medium-replay)")
    im.add_argument("--experts", type=int, default=None, help="number of expert demonstrations (default 1)")
    im.add_argument("--rewarder", nargs="+", choices=["ailot", "otr", "true"], default=None)
    im.add_argument("--steps", type=int, default=None, help="IQL/BC updates")
    im.add_argument("--eval-every", type=int, default=None)
    im.add_argument("--seeds", type=int, nargs="+", default=None)
    im.add_argument("--dataset-steps", type=int, default=None, help="transitions per dataset kind")
    im.add_argument("--expert-steps", type=int, default=None, help="expert training steps")
    im.add_argument("--data-path", default=None)
    im.add_argument("--out", default=None, help="output folder (PNGs, results.json)")
    im.add_argument(
        "--device", default=None, help="torch device for ICVF, the OT rewards and IQL (default cpu)"
    )
    im.add_argument(
        "--wandb", action="store_true", help="log to wandb (offline unless WANDB_MODE says otherwise)"
    )
    im.add_argument("--quiet", action="store_true")
    im.set_defaults(func=_imitate)
    _add_dream_command(sub)
    _add_zilot_command(sub)
    _add_dataset_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    from sb3_ot._quiet import quiet_legacy_gym

    quiet_legacy_gym()  # d3rlpy's legacy gym would print a notice about itself to every command
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
