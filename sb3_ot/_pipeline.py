"""What the main jobs (``imitate``, ``dream``) report the same way: the score table, learning-curve PNGs,
wandb (offline by default).

A learning curve is ``[(step, mean return, normalized score)]``; a method has one curve per seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sb3_ot._files import atomic_write
from sb3_ot.data.scores import normalized_score

__all__ = [
    "Curve",
    "finish_wandb",
    "plot_curves",
    "print_table",
    "score_rows",
    "standard_error",
    "start_wandb",
]

Curve = list[tuple[int, float, float]]  # (step or update, mean return, normalized score)


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean over seeds (0 for a single value)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def score_rows(
    curves: dict[str, list[Curve]],
    order: Iterable[str],
    reference: dict[str, tuple[list[float], int]],
    ref: tuple[float, float],
) -> list[dict[str, Any]]:
    """One row per method in ``order`` that has curves (mean and standard error over seeds of the final
    normalized score), then one per ``reference`` entry ``name -> (returns, n)``."""
    rows = []
    for name in order:
        if name in curves:
            finals = [run[-1][2] for run in curves[name]]
            rows.append(
                {
                    "method": name,
                    "score": float(np.mean(finals)),
                    "se": standard_error(finals),
                    "n": len(finals),
                }
            )
    for name, (returns, n) in reference.items():
        rows.append({"method": name, "score": normalized_score(returns, *ref), "se": 0.0, "n": n})
    return rows


def print_table(rows: list[dict[str, Any]], echo: Callable[[str], None]) -> None:
    """The rows as the job's printed table: method, normalized score ± standard error."""
    width = max(24, *(len(r["method"]) for r in rows))
    echo("")
    echo(f"{'method':<{width}} {'normalized score':>18}")
    for r in rows:
        se = f" ± {r['se']:.1f}" if r["se"] else ""
        echo(f"{r['method']:<{width}} {r['score']:>10.1f}{se:<8}")


def plot_curves(panels: Sequence[tuple[dict[str, list[Curve]], str]], path: Path, title: str) -> Path:
    """A PNG with one panel per ``(curves, x label)``: each method's mean normalized score over its seeds
    (standard error shaded), the expert at 100 and random at 0; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in panels if p[0]]
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.2), squeeze=False)
    for ax, (curves, xlabel) in zip(axes[0], panels, strict=True):
        for name, runs in curves.items():
            steps = np.array([u for u, _, _ in runs[0]])
            scores = np.array([[s for _, _, s in run] for run in runs])
            mean = scores.mean(0)
            ax.plot(steps, mean, label=name)
            if len(runs) > 1:
                se = scores.std(0, ddof=1) / np.sqrt(len(runs))
                ax.fill_between(steps, mean - se, mean + se, alpha=0.2)
        ax.axhline(100, color="k", lw=0.8, ls="--")
        ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set(xlabel=xlabel, ylabel="normalized score")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def start_wandb(enabled: bool, config: dict[str, Any], out: Path) -> Any:
    """A wandb run (``$WANDB_MODE``, default ``offline``: nothing leaves the machine) or ``None``."""
    if not enabled:
        return None
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    return wandb.init(project="sb3-ot", config=config, dir=str(out), mode=mode)  # type: ignore[arg-type]


def finish_wandb(run: Any, rows: list[dict[str, Any]]) -> None:
    """Log the result table (one row per method, the rows' keys as columns) and close the run."""
    if run is None:
        return
    import wandb

    columns = list(rows[0]) if rows else []  # each job's own columns: method, score, se, ...
    table = wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])
    run.log({"scores": table})
    run.finish()
