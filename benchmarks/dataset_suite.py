"""Build a dataset suite from scratch and document it: sizes, returns, scores and build times.

Every dataset of the suite (all five D4RL kinds for each env) is built with `sb3_ot.datasets.build_dataset`
into the given (ideally empty) folders, timed, then read back with `dataset_info`. The expert of each
env is evaluated against its documented level, `medium` is checked to lie between `random` and
`expert`, and PointMaze's scripted expert's success rate is measured on its `expert` dataset.

Usage: python benchmarks/dataset_suite.py [--suite small] [--seed 0] [--write docs/datasets.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
from _report import machine, write_block

from sb3_ot.data import dataset_info, load_trajectories
from sb3_ot.datasets import KINDS, SUITES, build_dataset, dataset_id, expert_config, is_scripted, train_expert


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="small", choices=sorted(SUITES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-path", default=None, help="Minari datasets root (default: Minari's)")
    parser.add_argument(
        "--home", default=None, help="sb3-ot cache (default: $SB3_OT_HOME or ~/.cache/sb3_ot)"
    )
    parser.add_argument("--write", type=Path, default=None, help="markdown file to update")
    args = parser.parse_args()

    t_suite = time.perf_counter()
    rows, env_rows = [], []
    for env_id in SUITES[args.suite]:
        env_built = [build_and_time(env_id, kind, args) for kind in KINDS]
        rows += env_built
        env_rows.append(expert_row(env_id, {r["kind"]: r for r in env_built}, args))
    total = time.perf_counter() - t_suite
    print(f"suite {args.suite!r} built in {total / 60:.1f} min")

    if args.write is not None:
        lines = report_header(args, total) + expert_table(env_rows) + dataset_table(rows)
        write_block(args.write, "dataset_suite", lines, "Datasets")
        print(f"wrote {args.write}")
    return 0


def build_and_time(env_id: str, kind: str, args: argparse.Namespace) -> dict:
    """Build one dataset (from the cache if it exists) and summarise it, with its wall time and size."""
    t0 = time.perf_counter()
    ds = build_dataset(env_id, kind, seed=args.seed, data_path=args.data_path, home=args.home)
    secs = time.perf_counter() - t0
    info = dataset_info(ds)
    root = Path(ds.spec.data_path).parent
    print(
        f"{dataset_id(env_id, kind)}: {info['episodes']} episodes, {info['steps']} steps, "
        f"return {info['return_mean']:.1f}, normalized {info.get('normalized_score', float('nan')):.1f}, "
        f"{secs:.0f} s",
        flush=True,
    )
    return {**info, "kind": kind, "env_id": env_id, "seconds": secs, "mb": folder_mb(root)}


def expert_row(env_id: str, by_kind: dict[str, dict], args: argparse.Namespace) -> dict:
    """The expert of one env: reference returns, whether medium lies between, and how it was made."""
    build = by_kind["expert"]["build"]
    row = {
        "env_id": env_id,
        "random": build["random_return"],
        "expert": build["expert_return"],
        "medium_ok": by_kind["random"]["return_mean"]
        < by_kind["medium"]["return_mean"]
        < by_kind["expert"]["return_mean"],
        "seconds": sum(r["seconds"] for r in by_kind.values()),
    }
    if is_scripted(env_id):
        trajs = load_trajectories(dataset_id(env_id, "expert"), data_path=args.data_path)
        full = [t for t in trajs if len(t) == max(len(u) for u in trajs)]
        row["source"] = (
            f"scripted waypoint + PD controller (medium: epsilon {build['expert']['medium_epsilon']})"
        )
        row["success"] = float(np.mean([t.infos["success"].any() for t in full]))
        row["success_n"] = len(full)
        row["documented"] = None
        row["train_seconds"] = None
    else:
        run = train_expert(env_id, seed=args.seed, home=args.home, progress=False)  # cached
        cfg = expert_config(env_id)
        row["source"] = (
            f"{run.algo.upper()} {cfg.steps:,} steps (expert at step {run.expert_step:,}, "
            f"medium at step {run.medium_step:,})"
        )
        row["documented"] = cfg.expected_return
        row["train_seconds"] = run.train_seconds
    return row


def report_header(args: argparse.Namespace, total: float) -> list[str]:
    return [
        f"## Suite `{args.suite}`: measured build",
        "",
        f"Command: `{'python ' + ' '.join(sys.argv)}` (from empty folders)  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}  ",
        f"Whole suite: **{total / 60:.1f} min**",
        "",
    ]


def expert_table(env_rows: list[dict]) -> list[str]:
    lines = [
        "### Experts",
        "",
        "Random and expert returns are means over 100 episodes (the datasets' `ref_min_score` and "
        "`ref_max_score`); the expert acts deterministically there.",
        "",
        "| env | expert | random return | expert return | documented level | medium between random and expert | "
        "training | all five datasets |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in env_rows:
        doc = "-" if e["documented"] is None else f">= {e['documented']:g}"
        if "success" in e:
            doc = f"goal reached in {100 * e['success']:.0f}% of {e['success_n']} episodes"
        train = "-" if e["train_seconds"] is None else f"{e['train_seconds'] / 60:.1f} min"
        lines.append(
            f"| {e['env_id']} | {e['source']} | {e['random']:.1f} | {e['expert']:.1f} | {doc} | "
            f"{'yes' if e['medium_ok'] else 'NO'} | {train} | {e['seconds'] / 60:.1f} min |"
        )
    return lines


def dataset_table(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "### Datasets",
        "",
        "`normalized` is D4RL's score of the dataset's mean episode return: "
        "100 * (return - random) / (expert - random). Build time includes training the expert for the "
        "first dataset of an env that needs it.",
        "",
        "| dataset | episodes | steps | terminated / time-out | mean return | normalized | size | build time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['id']}` | {r['episodes']:,} | {r['steps']:,} | {r['terminated']} / {r['truncated']} | "
            f"{r['return_mean']:.1f} | {r.get('normalized_score', float('nan')):.1f} | {r['mb']:.1f} MB | "
            f"{r['seconds']:.0f} s |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
