"""Relabel throughput: AILOT rewards for a 1M-transition dataset (1000-step episodes, 256-d intents).

The dataset is 1000 HalfCheetah-v5 episodes of 1000 steps under scripted sinusoidal gaits with action
noise (the states of ``ot_throughput.py``; generated once and cached as an .npz). An ICVF encoder with
256-d intents (hidden (256, 256), the paper's size) is fitted briefly on them: its training time is
reported but is not part of the relabel, whose output is what the timing covers.

Timed: ``relabel_for_offline(trajs, AILOTRewarder(encoder))`` with its defaults (pairs
``[psi(s_i), psi(s_i+k)]``, 512 features per row, start alignment, eps 0.01), i.e. encoding, OT and the
IQL scaling, end to end. Side by side in the same run: the same per-row costs from a POT per-pair loop
(``ot.sinkhorn`` on ``ot.dist`` of the same features, the same start alignment and eps), timed on a
subset of episodes and extrapolated per transition, with the largest relative reward difference.

Usage: python benchmarks/relabel_throughput.py [--episodes 1000] [--pot-pairs 20] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import ot as pot
import torch
from _report import provenance, write_block
from ot_throughput import halfcheetah_states

from sb3_ot._files import atomic_write
from sb3_ot.data import Trajectory
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.rewards import AILOTRewarder, relabel_for_offline

CACHE = Path(__file__).resolve().parent / ".cache"


def _chunk(seed: int) -> np.ndarray:
    return halfcheetah_states(100, seed=seed)


def states(n_episodes: int) -> np.ndarray:
    """(n_episodes, 1001, 17) float32 HalfCheetah states, cached on disk.

    Generated in chunks of 100 episodes (chunk ``s`` seeded by ``s``), one process per chunk up to
    the CPU count: the same states as a serial run, faster on the many-core hosts of GPUs (1M steps
    took 33 s with two processes on a 2-core machine).
    """
    path = CACHE / f"halfcheetah_sinusoid_{n_episodes}.npz"
    if path.exists():
        return np.load(path)["states"]
    t0 = time.perf_counter()
    seeds = list(range((n_episodes + 99) // 100))
    workers = min(len(seeds), os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            chunks = list(pool.map(_chunk, seeds))
    else:
        chunks = [_chunk(s) for s in seeds]
    out = np.concatenate(chunks)[:n_episodes].astype(np.float32)
    with atomic_write(path) as tmp:
        np.savez(tmp, states=out)
    print(f"generated {out.shape} states in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def pot_rewards(rewarder: AILOTRewarder, obs: np.ndarray, method: str, stop: float) -> np.ndarray:
    """AILOT rewards of one episode from POT on the same features, alignment and eps (one pair)."""
    x = rewarder.features(obs).double().cpu().numpy()  # features are tensors on the rewarder's device
    y = rewarder.experts[0].double().cpu().numpy()
    j1 = int(((y - x[0]) ** 2).sum(1).argmin())  # start alignment, as the rewarder does
    y = y[j1:]
    C = pot.dist(x, y)
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = pot.sinkhorn(a, b, C, rewarder.eps, method=method, stopThr=stop, numItermax=100_000)
    row_cost = (P * C).sum(1)
    return rewarder.alpha * np.exp(-rewarder.scale * len(x) * row_cost)


def run(n_episodes: int, icvf_updates: int, pot_pairs: int, log_pairs: int, repeats: int) -> dict:
    torch.manual_seed(0)
    s = states(n_episodes)
    trajs = [Trajectory(ep, None, terminated=False) for ep in s]
    n_transitions = sum(len(t) for t in trajs)
    t0 = time.perf_counter()
    encoder = ICVFEncoder(hidden_dims=(256, 256), seed=0).fit(trajs[:200], n_updates=icvf_updates)
    fit_s = time.perf_counter() - t0
    # the expert: the fastest gait (largest forward velocity, state index 8)
    expert = trajs[int(s[:, :, 8].mean(1).argmax())]
    rewarder = AILOTRewarder(encoder).set_expert([expert])

    times = []
    relabelled = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        relabelled, scale = relabel_for_offline(trajs, rewarder, progress=True)
        times.append(time.perf_counter() - t0)
    ours_s = statistics.median(times)
    t0 = time.perf_counter()
    encoder.encode(s.reshape(-1, s.shape[-1]))
    encode_s = time.perf_counter() - t0

    rows = [
        dict(
            method="sb3_ot AILOTRewarder (encode + OT + scaling, batched)",
            seconds=ours_s,
            tps=n_transitions / ours_s,
            err=0.0,
            note=f"median of {repeats}; ICVF encode alone {encode_s:.1f} s",
        )
    ]
    ours = [r.rews / scale for r in relabelled]  # type: ignore[union-attr,operator]
    for method, stop, pairs in (("sinkhorn", 1e-4, pot_pairs), ("sinkhorn_log", 1e-4, log_pairs)):
        idx = np.linspace(0, n_episodes - 1, pairs).astype(int)
        t0 = time.perf_counter()
        outs = [pot_rewards(rewarder, s[i], method, stop) for i in idx]
        per_pair = (time.perf_counter() - t0) / len(idx)
        err = max(
            float(np.abs(o - ours[i]).max() / max(np.abs(ours[i]).max(), 1e-12))
            for o, i in zip(outs, idx, strict=True)
        )
        rows.append(
            dict(
                method=f"POT {method} per-pair loop (stopThr {stop:g})",
                seconds=per_pair * n_episodes,
                tps=n_transitions / (per_pair * n_episodes),
                err=err,
                note=f"{len(idx)} episodes timed, extrapolated; features precomputed",
            )
        )
    for r in rows:
        r["speedup"] = r["seconds"] / ours_s
        print(
            f"{r['method']:58s} {r['seconds']:9.1f} s  {r['tps']:10,.0f} tr/s  x{r['speedup']:.1f}  "
            f"max rel reward diff {r['err']:.1e}  {r['note']}",
            flush=True,
        )
    return dict(
        rows=rows, n_transitions=n_transitions, n_episodes=n_episodes, fit_s=fit_s, icvf_updates=icvf_updates
    )


def write_markdown(path: Path, res: dict, command: str) -> None:
    lines = [
        "## Relabel throughput (1M transitions, 256-d intents)",
        *provenance(command),
        f"POT version: {pot.__version__}",
        "",
        f"{res['n_episodes']} HalfCheetah-v5 episodes of 1000 steps ({res['n_transitions']:,} transitions, "
        "scripted sinusoidal gaits). AILOT rewards against one 1000-step expert episode with the "
        "`AILOTRewarder` defaults: ICVF intents of 256-d (hidden (256, 256)), pairs `[psi(s_i), psi(s_i+2)]` "
        "(512 features per row), start alignment, eps 0.01 on `|x-y|^2/D`. The sb3_ot row is the whole "
        "`relabel_for_offline` call (encoding, OT, IQL scaling). POT rows solve the same problems one pair at "
        "a time on the same precomputed features (their encoding is not counted), timed on a subset of "
        "episodes and extrapolated to the dataset; `max rel diff` is the largest reward difference against "
        f"sb3_ot, relative to the episode's largest reward. The encoder's fit ({res['icvf_updates']} "
        f"updates, {res['fit_s']:.0f} s) is not part of the relabel.",
        "",
        "| method | time for the dataset (s) | transitions / s | time vs sb3_ot | max rel diff | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['method']} | {r['seconds']:.1f} | {r['tps']:,.0f} | {r['speedup']:.1f}x | {r['err']:.1e} | "
            f"{r['note']} |"
        )
    write_block(path, "relabel_throughput", lines, "Benchmarks")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--icvf-updates", type=int, default=300)
    p.add_argument("--pot-pairs", type=int, default=20)
    p.add_argument("--log-pairs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--write", type=Path, default=None)
    args = p.parse_args()
    res = run(args.episodes, args.icvf_updates, args.pot_pairs, args.log_pairs, args.repeats)
    if args.write:
        write_markdown(args.write, res, "python " + " ".join(sys.argv))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
