"""Build a dataset suite from scratch and document it: sizes, returns, scores and build times.

Every dataset of the suite (all five D4RL kinds for each env) is built with `sb3_ot.data.build_dataset`
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

from sb3_ot.data import load_trajectories
from sb3_ot.data.datasets import KINDS, SUITES, build_dataset, dataset_id, dataset_info
from sb3_ot.data.experts import expert_config, train_expert
from sb3_ot.data.scripted import is_scripted


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
        for kind in KINDS:
            t0 = time.perf_counter()
            ds = build_dataset(env_id, kind, seed=args.seed, data_path=args.data_path, home=args.home)
            secs = time.perf_counter() - t0
            info = dataset_info(ds)
            root = Path(ds.spec.data_path).parent
            rows.append({**info, "kind": kind, "env_id": env_id, "seconds": secs, "mb": folder_mb(root)})
            print(
                f"{dataset_id(env_id, kind)}: {info['episodes']} episodes, {info['steps']} steps, "
                f"return {info['return_mean']:.1f}, normalized {info.get('normalized_score', float('nan')):.1f}, "
                f"{secs:.0f} s",
                flush=True,
            )
        by_kind = {r["kind"]: r for r in rows if r["env_id"] == env_id}
        build = by_kind["expert"]["build"]
        env_row = {
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
            env_row["source"] = (
                f"scripted waypoint + PD controller (medium: epsilon {build['expert']['medium_epsilon']})"
            )
            env_row["success"] = float(np.mean([t.infos["success"].any() for t in full]))
            env_row["success_n"] = len(full)
            env_row["documented"] = None
            env_row["train_seconds"] = None
        else:
            run = train_expert(env_id, seed=args.seed, home=args.home, progress=False)  # cached
            cfg = expert_config(env_id)
            env_row["source"] = (
                f"{run.algo.upper()} {cfg.steps:,} steps (expert at step {run.expert_step:,}, "
                f"medium at step {run.medium_step:,})"
            )
            env_row["documented"] = cfg.expected_return
            env_row["train_seconds"] = run.train_seconds
        env_rows.append(env_row)
    total = time.perf_counter() - t_suite
    print(f"suite {args.suite!r} built in {total / 60:.1f} min")

    if args.write is not None:
        command = "python " + " ".join(sys.argv)
        lines = [
            f"## Suite `{args.suite}`: measured build",
            "",
            f"Command: `{command}` (from empty folders)  ",
            f"Date: {dt.date.today().isoformat()}  ",
            f"Machine: {machine()}  ",
            f"Whole suite: **{total / 60:.1f} min**",
            "",
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
        lines += [
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
        write_block(args.write, "dataset_suite", lines, "Datasets")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
