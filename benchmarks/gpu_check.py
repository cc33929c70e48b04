"""The one-command GPU check: the OT engine, the AILOT relabel and the online wrapper on a device,
each result checked against the CPU and timed.

Whoever has a CUDA machine runs only this script (sized for under 5 minutes on an H200-class GPU):

  python benchmarks/gpu_check.py --write docs/benchmarks.md

Sections (each a function returning a dict of figures and checks; add a new one to ``SECTIONS``):

1. **OT engine.** ``sb3_ot.ot.sinkhorn`` with the dense torch backend and with KeOps on the device, on
   batches of 1000 x 1000 HalfCheetah problems (17-d standardised states, and 512-d features from a
   fixed random tanh layer), eps 1% of the largest cost. Checked: each device result's row costs
   against the CPU dense solve (per-row relative error <= ``ROW_TOL``), and that the backend asked for
   is the one that ran (KeOps that cannot compile falls back to dense with a warning: here a FAIL).
   Beside them, POT's ``ot.sinkhorn`` on the CPU (one pair, per-pair time).
2. **AILOT relabel, 1M transitions.** ``relabel_for_offline`` on ``relabel_throughput.py``'s 1000
   HalfCheetah episodes of 1000 steps, ICVF (256, 256) fitted briefly, encoder and rewarder on the
   device. Checked against the same rewarder saved and loaded on the CPU, on a subset of episodes.
3. **Online wrapper overhead.** 8 HalfCheetah-v5 envs in SB3's DummyVecEnv, plain against
   ``OTRewardVecEnvWrapper`` (episode mode, the default rewarder on the device), replaying the same
   random actions from the same seeds (``online_imitation.py``'s machinery). Checked: the rewards the
   wrapper emits against the default rewarder on the CPU.

Every timing is a median of repeats with ``torch.cuda.synchronize`` around GPU work, after a warm-up
call (KeOps compiles each formula on its first call). The script exits with status 1 when any check
fails (or a section raises), after printing and writing everything it measured.

``--device cpu --quick`` runs the same code on tiny problems in well under a minute: the CI smoke test
(``tests/test_gpu_check.py``). On a CPU, KeOps runs only on one tiny problem: its compilation is what
that run proves works; its CPU speed is in the OT throughput table.

Usage: python benchmarks/gpu_check.py [--device cuda|cpu] [--quick] [--write docs/benchmarks.md] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import random
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import ot as pot
import torch
from _report import accelerator, machine, write_block
from ot_throughput import features as lifted_features
from ot_throughput import halfcheetah_states, row_error

from sb3_ot import ot as sot
from sb3_ot.data import Trajectory
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.rewards import AILOTRewarder, relabel_for_offline

ROW_TOL = 1e-3  # OT section: per-row relative error of row costs, device against the CPU dense solve
# The OT section solves to a marginal tolerance 100x tighter than the engine's default: a row's error
# scales with the tolerance, and dense and KeOps take different paths to the fixed point. Measured on
# 1000 x 1000 HalfCheetah pairs (float32 against float64 converged): at 1e-4 single rows are off by up
# to 1.9e-3 (so two correct solvers can disagree by more than ROW_TOL), at 1e-6 by at most 2.5e-5, for
# 1.2-1.6x the iterations.
SINKHORN_TOL = 1e-6
# Relabel and wrapper sections run the rewarders at their defaults (marginal tolerance 1e-4), as users
# do. Rewards there are only as exact as that tolerance: against converged solves they are off by up to
# 1.2e-3 (AILOT) and 2.6e-3 (the online default rewarder) of the episode's largest reward (measured on
# 1000-step HalfCheetah episodes), and a device may stop an iteration earlier or later than the CPU.
# The limit leaves 4x room over that solver noise.
REWARD_TOL = 1e-2  # largest reward difference, relative to the episode's largest reward
ENCODE_TOL = 1e-4  # largest ICVF feature difference, relative to the largest feature (float32 rounding)
OT_EPS = 0.01  # eps as a fraction of the problem's largest cost (the OT throughput table's first setting)


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one mode (full: the GPU run; quick: the CI smoke run)."""

    ot_problems: tuple[tuple[int, int, int], ...]  # (batch, N = M, feature dim)
    ot_repeats: int
    relabel_episodes: int
    relabel_steps: int
    icvf_hidden: tuple[int, ...]
    icvf_updates: int
    relabel_repeats: int
    check_episodes: int  # relabelled episodes compared with the CPU
    episode_steps: int  # online wrapper: steps per episode
    episodes_per_env: int
    overhead_repeats: int
    n_envs: int = 8


# Full sizes: meant to finish in under 5 minutes on an H200-class machine, KeOps' first CUDA compilations
# included (an estimate from the CPU run's figures: no GPU was at hand when they were chosen; the report
# gives each section's seconds). Quick sizes: well under a minute on a 2-core CPU.
FULL = Sizes(
    ot_problems=((8, 1000, 17), (8, 1000, 512)), ot_repeats=5,
    relabel_episodes=1000, relabel_steps=1000, icvf_hidden=(256, 256), icvf_updates=300, relabel_repeats=2,
    check_episodes=16, episode_steps=1000, episodes_per_env=2, overhead_repeats=5,
)  # fmt: skip
QUICK = Sizes(
    ot_problems=((2, 200, 17), (2, 200, 512)), ot_repeats=3,
    relabel_episodes=20, relabel_steps=200, icvf_hidden=(32, 32), icvf_updates=5, relabel_repeats=1,
    check_episodes=4, episode_steps=50, episodes_per_env=2, overhead_repeats=3,
)  # fmt: skip
KEOPS_CPU_PROBLEM = (1, 64, 17)  # KeOps on a CPU: one tiny problem proves it compiles and agrees


@dataclass
class Context:
    """What every section gets: the device, the sizes and the seed."""

    device: torch.device
    sizes: Sizes
    quick: bool
    seed: int = 0

    def sync(self) -> None:
        """Wait for the device's queued work, so that a clock read covers it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too


def check(what: str, value: float, limit: float) -> dict:
    """A check that ``value <= limit`` (NaN fails)."""
    return dict(what=what, value=f"{value:.1e}", limit=f"<= {limit:g}", passed=bool(value <= limit))


def holds(what: str, passed: bool, detail: str) -> dict:
    """A yes/no check."""
    return dict(what=what, value=detail, limit="-", passed=bool(passed))


class Timing(NamedTuple):
    seconds: float  # median over the timed calls
    out: Any  # the last call's result
    runs: int  # timed calls


def timed(
    fn: Callable[[], Any], ctx: Context, repeats: int, warmup: bool = True, budget_s: float = math.inf
) -> Timing:
    """Median seconds of ``fn()`` over ``repeats`` calls (after one untimed warm-up call: KeOps
    compilation, CUDA kernels, allocator) and the last result. GPU work is synchronised around each.
    Repeats stop early once the timed calls took ``budget_s`` in all (the 5-minute promise)."""
    out = fn() if warmup else None
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget_s:
        ctx.sync()
        start = time.perf_counter()
        out = fn()
        ctx.sync()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), out, len(times))


@functools.cache
def halfcheetah(quick: bool) -> np.ndarray:
    """The HalfCheetah-v5 states (episodes, steps + 1, 17) every section draws from: full, the 1M
    transitions of ``relabel_throughput.py`` (cached on disk); quick, 20 episodes of 200 steps."""
    if quick:
        return halfcheetah_states(QUICK.relabel_episodes, seed=0, steps=QUICK.relabel_steps).astype(
            np.float32
        )
    from relabel_throughput import states

    return states(FULL.relabel_episodes)


def on_device(ctx: Context, *objects: Any) -> bool:
    """Whether each object (encoder, rewarder) computes on the context's device type: the ``device=``
    arguments reached it."""
    return all(getattr(o, "device", None) is not None and o.device.type == ctx.device.type for o in objects)


def fastest(states: np.ndarray) -> int:
    """Index of the episode with the largest mean forward velocity (state 8): the expert demo."""
    return int(states[:, :, 8].mean(1).argmax())


# ----------------------------------------------------------------------------- 1. OT engine
def ot_problem(states: np.ndarray, batch: int, n: int, dim: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``batch`` agent trajectories ``x [B, n, dim]`` against an expert ``y [n, dim]`` (float32, CPU),
    features scaled by ``1/sqrt(dim)`` as the rewarders do, and eps = OT_EPS of the largest cost."""
    s = states[: batch + 1, :n].astype(np.float64)
    flat = s.reshape(-1, s.shape[-1])
    f = lifted_features(s, dim, flat.mean(0), flat.std(0) + 1e-6) / np.sqrt(dim)
    f = torch.from_numpy(f.astype(np.float32))  # float32, as the rewarders compute (numpy made it float64)
    x, y = f[1:].contiguous(), f[0].contiguous()
    return x, y, OT_EPS * float(sot.cost_matrix(x, y).max())


def solve(x: torch.Tensor, y: torch.Tensor, eps: float, backend: str) -> sot.SinkhornResult:
    return sot.sinkhorn(x, y, eps=eps, tol=SINKHORN_TOL, backend=backend)


def pot_pair(x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """POT's ``ot.sinkhorn`` (float64) row costs of one pair; its 2-norm stopThr ``tol / sqrt(M)``
    bounds the L1 marginal error by our ``tol``."""
    C = pot.dist(x, y)
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns when it hits numItermax; the error is reported
        P = pot.sinkhorn(a, b, C, eps, stopThr=SINKHORN_TOL / math.sqrt(len(y)), numItermax=100_000)
    return (P * C).sum(1)


def ot_row(x: torch.Tensor, solver: str, device: str, per_pair: float, ref_per_pair: float, **kw) -> dict:
    """One row of the OT table for the problem of ``x [B, N, D]`` (``per_pair``: seconds per pair)."""
    batch, n, dim = x.shape
    return {
        "D": dim, "B x N x M": f"{batch} x {n} x {n}", "solver": solver, "device": device,
        "ms / pair": f"{1e3 * per_pair:.2f}", "transitions / s": f"{n / per_pair:,.0f}",
        "vs CPU dense": f"{ref_per_pair / per_pair:.1f}x", "iterations": kw.get("iterations", "-"),
        "row err": kw.get("row_err", "-"),
    }  # fmt: skip


def ot_device_runs(ctx: Context, x, y, eps: float, ref: np.ndarray, ref_per_pair: float, backends: list[str]):
    """Each backend on the device: timed, its row costs checked against the CPU dense ``ref [B, N]``.
    Returns (rows, checks)."""
    rows, checks = [], []
    batch, dim, shape = x.shape[0], x.shape[-1], f"{x.shape[0]} x {x.shape[1]} x {y.shape[0]}"
    assert x.shape[1] == y.shape[0], "the OT table assumes square problems (N = M)"
    xd, yd = x.to(ctx.device), y.to(ctx.device)
    for backend in backends:
        with warnings.catch_warnings(record=True) as caught:  # KeOps' fall-back warning names the reason
            warnings.simplefilter("always")
            secs, res, _ = timed(lambda: solve(xd, yd, eps, backend), ctx, ctx.sizes.ot_repeats)
        err = max(row_error(res.row_cost[k].double().cpu().numpy(), ref[k]) for k in range(batch))
        why = "; ".join(str(w.message) for w in caught if "unavailable" in str(w.message))
        name = f"D {dim}, {shape}: {backend} on {ctx.device.type}"
        checks.append(
            holds(f"{name} ran as asked", res.backend == backend, f"ran {res.backend} {why}".strip())
        )
        checks.append(check(f"{name}: row costs vs CPU dense", err, ROW_TOL))
        label = f"sb3_ot {res.backend}" + ("" if res.backend == backend else f" (asked for {backend})")
        rows.append(ot_row(x, label, ctx.device.type, secs / batch, ref_per_pair,
                           iterations=res.n_iters, row_err=f"{err:.1e}"))  # fmt: skip
    return rows, checks


def ot_one_problem(ctx: Context, batch: int, n: int, dim: int, backends: list[str]) -> tuple[list, list]:
    """Rows and checks of one problem size: CPU dense (the reference), the device backends, POT."""
    x, y, eps = ot_problem(halfcheetah(ctx.quick), batch, n, dim)
    cpu = replace(ctx, device=torch.device("cpu"))
    ref_s, ref_res, _ = timed(lambda: solve(x, y, eps, "tensorized"), cpu, ctx.sizes.ot_repeats)
    ref = ref_res.row_cost.double().numpy()
    rows = [ot_row(x, "sb3_ot tensorized (reference)", "cpu", ref_s / batch, ref_s / batch,
                   iterations=ref_res.n_iters, row_err="0")]  # fmt: skip
    dev_rows, checks = ot_device_runs(ctx, x, y, eps, ref, ref_s / batch, backends)
    x0, y0 = x[0].double().numpy(), y.double().numpy()
    pot_s, pot_rc, _ = timed(lambda: pot_pair(x0, y0, eps), cpu, min(3, ctx.sizes.ot_repeats), warmup=False)
    rows += dev_rows
    rows.append(ot_row(x, "POT ot.sinkhorn (one pair)", "cpu", pot_s, ref_s / batch,
                       row_err=f"{row_error(pot_rc, ref[0]):.1e}"))  # fmt: skip
    return rows, checks


def ot_section(ctx: Context) -> dict:
    """The OT engine on the device (dense and KeOps) against the CPU dense solve and POT."""
    rows, checks = [], []
    cuda = ctx.device.type == "cuda"
    problems = [(p, ["tensorized", "keops"] if cuda else ["tensorized"]) for p in ctx.sizes.ot_problems]
    if not cuda:  # KeOps on a CPU is slow (see the OT table): one tiny problem proves it compiles and agrees
        problems.append((KEOPS_CPU_PROBLEM, ["keops"]))
    for (batch, n, dim), backends in problems:
        r, c = ot_one_problem(ctx, batch, n, dim, backends)
        rows, checks = rows + r, checks + c
    about = (
        "B agent trajectories against one expert trajectory per problem (HalfCheetah-v5 scripted gaits; D 17: "
        "standardised states, D 512: a fixed random tanh layer over them), features scaled by 1/sqrt(D) as the "
        f"rewarders do, eps {OT_EPS:g} of the largest cost, marginal tolerance {SINKHORN_TOL:g}. `row err`: the "
        "largest per-row relative error of `row_cost` against the CPU dense solve (rows under 1e-3 of the mean "
        "cost compared at that floor). POT `ot.sinkhorn` (float64, kernel domain, stopThr tol / sqrt(M)) solves "
        "one pair on the CPU. Times: medians of repeats after a warm-up call, per pair."
    )
    return dict(title="OT engine: dense torch and KeOps on the device", about=about, rows=rows, checks=checks)


# ----------------------------------------------------------------------------- 2. AILOT relabel
def fit_encoder(ctx: Context, trajs: list[Trajectory]) -> tuple[ICVFEncoder, float]:
    """ICVF on the device, fitted briefly on the first 200 episodes (as ``relabel_throughput.py``)."""
    start = time.perf_counter()
    encoder = ICVFEncoder(hidden_dims=ctx.sizes.icvf_hidden, seed=ctx.seed, device=ctx.device)
    encoder.fit(trajs[:200], n_updates=ctx.sizes.icvf_updates, progress=False)
    ctx.sync()
    return encoder, time.perf_counter() - start


def on_cpu(rewarder: AILOTRewarder) -> AILOTRewarder:
    """The same rewarder (settings, encoder weights, expert features) saved and loaded on the CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        return AILOTRewarder.load(rewarder.save(Path(tmp) / "rewarder.pt"), device="cpu")


def max_rel_diff(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Largest ``|got - want|`` relative to ``want``'s largest magnitude, over the pairs of arrays."""
    return max(
        float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-12)) for g, w in zip(got, want, strict=True)
    )


def relabel_section(ctx: Context) -> dict:
    """``relabel_for_offline`` with ICVF + AILOT on the device, checked against the CPU on a subset."""
    sz = ctx.sizes
    states = halfcheetah(ctx.quick)[: sz.relabel_episodes, : sz.relabel_steps + 1]
    trajs = [Trajectory(ep, None, terminated=False) for ep in states]
    encoder, fit_s = fit_encoder(ctx, trajs)
    rewarder = AILOTRewarder(encoder, device=ctx.device).set_expert([trajs[fastest(states)]])
    relabel = lambda: relabel_for_offline(trajs, rewarder)  # noqa: E731
    secs, (relabelled, scale), runs = timed(relabel, ctx, sz.relabel_repeats, warmup=False, budget_s=60)
    cpu, idx = on_cpu(rewarder), np.linspace(0, len(trajs) - 1, sz.check_episodes).astype(int)
    cpu_ctx = replace(ctx, device=torch.device("cpu"))
    cpu_s, cpu_rewards, _ = timed(lambda: cpu.rewards([trajs[i] for i in idx]), cpu_ctx, 1, warmup=False)
    cpu_s *= len(trajs) / len(idx)  # extrapolated to the dataset
    reward_err = max_rel_diff([relabelled[i].rews / scale for i in idx], cpu_rewards)
    encode_err = max_rel_diff([encoder.encode(states[idx[0]])], [cpu.encoder.encode(states[idx[0]])])
    n = sum(len(t) for t in trajs)
    dev = ctx.device.type
    rows = [
        {"run": "relabel_for_offline (encode + OT + IQL scaling)", "device": dev, "seconds": f"{secs:.2f}",
         "transitions / s": f"{n / secs:,.0f}", "note": f"median of {runs}; {cpu_s / secs:.1f}x the CPU's speed"},
        {"run": "the same rewarder on the CPU", "device": "cpu", "seconds": f"{cpu_s:.2f}",
         "transitions / s": f"{n / cpu_s:,.0f}", "note": f"{len(idx)} episodes timed, extrapolated"},
        {"run": f"ICVF fit ({sz.icvf_updates} updates, not in the relabel)", "device": dev,
         "seconds": f"{fit_s:.2f}", "transitions / s": "-", "note": f"hidden {sz.icvf_hidden}"},
    ]  # fmt: skip
    checks = [
        holds(f"encoder and rewarder on {dev}", on_device(ctx, encoder, rewarder), f"{rewarder.device}"),
        check(f"AILOT rewards on {dev} vs CPU ({len(idx)} episodes)", reward_err, REWARD_TOL),
        check(f"ICVF features on {dev} vs CPU (one episode)", encode_err, ENCODE_TOL),
    ]
    about = (
        f"{len(trajs)} HalfCheetah-v5 episodes of {sz.relabel_steps} steps ({n:,} transitions, scripted gaits), "
        f"AILOT rewards against the fastest episode with the `AILOTRewarder` defaults on ICVF intents "
        f"(hidden {sz.icvf_hidden}), encoder and rewarder on the device. The CPU check loads the same "
        "rewarder (`save` / `load(device='cpu')`) and labels a subset of episodes."
    )
    return dict(title="AILOT relabel on the device", about=about, rows=rows, checks=checks)


# ----------------------------------------------------------------------------- 3. online wrapper
def overhead_envs(ctx: Context, demo: Trajectory):
    """Plain and wrapped (episode mode, default rewarder on the device) DummyVecEnvs of HalfCheetah-v5."""
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_ot.wrappers import OTRewardVecEnvWrapper

    sz = ctx.sizes
    make = lambda: gym.make("HalfCheetah-v5", max_episode_steps=sz.episode_steps)  # noqa: E731
    plain = make_vec_env(make, sz.n_envs, seed=ctx.seed)
    wrapped = OTRewardVecEnvWrapper(make_vec_env(make, sz.n_envs, seed=ctx.seed), demo, device=ctx.device)
    wrapped.claim_ot_rewards()  # the check below reads info["ot_rewards"] itself
    return plain, wrapped


def overhead_section(ctx: Context) -> dict:
    """Plain against wrapped vectorised stepping (same seeds, same random actions) and the wrapper's
    emitted rewards against the default rewarder on the CPU."""
    from online_imitation import record, replay_ot_rewards, time_replays

    from sb3_ot.wrappers.env import default_rewarder

    sz, states = ctx.sizes, halfcheetah(ctx.quick)
    demo = Trajectory(states[fastest(states), : sz.episode_steps + 1], None, terminated=False)
    plain, wrapped = overhead_envs(ctx, demo)
    rng = np.random.default_rng(ctx.seed)
    act = lambda obs: rng.uniform(-1, 1, (sz.n_envs, *plain.action_space.shape)).astype(np.float32)  # noqa: E731
    rec = record(plain, act, sz.episode_steps * sz.episodes_per_env, sz.episode_steps, seed=ctx.seed)
    times = time_replays({"plain": plain, "wrapped": wrapped}, rec, sz.overhead_repeats, ctx.sync)
    emitted = replay_ot_rewards(wrapped, rec)
    cpu = default_rewarder(device="cpu").set_expert(demo)
    cpu_ctx = replace(ctx, device=torch.device("cpu"))
    batch = rec.episodes[: sz.n_envs]  # the episodes that end at one step: one batched OT call
    ot_s = timed(lambda: wrapped.rewarder.rewards(batch), ctx, sz.overhead_repeats).seconds
    cpu_ot_s = timed(lambda: cpu.rewards(batch), cpu_ctx, sz.overhead_repeats).seconds
    err = max_rel_diff(emitted, cpu.rewards(rec.episodes))
    plain_ms, wrapped_ms = 1e3 * times["plain"], 1e3 * times["wrapped"]
    rows = [
        {"arm": "plain envs", "ms / vec step": f"{plain_ms:.3f}", "overhead": "-", "OT ms / episode": "-"},
        {"arm": f"wrapped, rewarder on {wrapped.rewarder.device.type}", "ms / vec step": f"{wrapped_ms:.3f}",
         "overhead": f"{100 * (wrapped_ms - plain_ms) / plain_ms:.0f}%",
         "OT ms / episode": f"{1e3 * ot_s / len(batch):.1f}"},
        {"arm": "the default rewarder on the CPU (OT only)", "ms / vec step": "-", "overhead": "-",
         "OT ms / episode": f"{1e3 * cpu_ot_s / len(batch):.1f}"},
    ]  # fmt: skip
    where = wrapped.rewarder.device
    checks = [
        holds(f"the wrapper's rewarder on {ctx.device.type}", on_device(ctx, wrapped.rewarder), f"{where}"),
        check(f"wrapper rewards on {ctx.device.type} vs CPU ({len(emitted)} episodes)", err, REWARD_TOL),
    ]
    about = (
        f"{sz.n_envs} HalfCheetah-v5 envs (episodes of {sz.episode_steps} steps) in SB3's DummyVecEnv, plain "
        "against `OTRewardVecEnvWrapper` (episode mode, the default rewarder), replaying the same uniform random "
        f"actions from the same seeds, {sz.episodes_per_env} episodes per env, median of {sz.overhead_repeats} "
        "alternating runs. The demonstration is the fastest scripted gait. `OT ms / episode`: one batched "
        f"`rewards` call on the {sz.n_envs} episodes that end together, per episode."
    )
    return dict(title="Online wrapper overhead", about=about, rows=rows, checks=checks)


# ----------------------------------------------------------------------------- report
SECTIONS: list[Callable[[Context], dict]] = [ot_section, relabel_section, overhead_section]


def run_section(section: Callable[[Context], dict], ctx: Context) -> dict:
    """One section, timed; an exception becomes a failed check so that the other sections still run."""
    start = time.perf_counter()
    try:
        out = section(ctx)
    except Exception as err:
        traceback.print_exc()
        doc = (section.__doc__ or section.__name__).splitlines()[0]
        fail = holds("ran to the end", False, f"{type(err).__name__}: {err}".splitlines()[0])
        out = dict(title=f"{section.__name__} (raised)", about=doc, rows=[], checks=[fail])
    out["seconds"] = time.perf_counter() - start
    return out


def cell(value: Any) -> str:
    return str(value).replace("|", "\\|")  # a pipe inside a cell would end it


def table(rows: list[dict]) -> list[str]:
    """A markdown table of dicts with the same keys (the keys are the header)."""
    if not rows:
        return []
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return lines + ["| " + " | ".join(cell(v) for v in row.values()) + " |" for row in rows]


def section_markdown(number: int, res: dict) -> list[str]:
    """A section's heading, description, figures and checks (each PASS or FAIL)."""
    checks = [
        {
            "check": c["what"],
            "value": c["value"],
            "limit": c["limit"],
            "result": "PASS" if c["passed"] else "FAIL",
        }
        for c in res["checks"]
    ]
    head = [f"### {number}. {res['title']} ({res['seconds']:.0f} s)", "", res["about"], ""]
    return head + table(res["rows"]) + [""] + table(checks) + [""]


def header(ctx: Context, results: list[dict], command: str, wall_s: float) -> list[str]:
    """The block's title, command, date, machine and verdict."""
    from importlib.metadata import version

    checks = [c for r in results for c in r["checks"]]
    failed = sum(not c["passed"] for c in checks)
    verdict = f"all {len(checks)} checks passed" if not failed else f"{failed} of {len(checks)} checks FAILED"
    return [
        "## GPU check (`benchmarks/gpu_check.py`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Device: {ctx.device} ({accelerator(ctx.device)}){', quick sizes' if ctx.quick else ''}  ",
        f"Host: {machine()}, POT {pot.__version__}, pykeops {version('pykeops')}  ",
        f"Result: **{verdict}**; {wall_s:.0f} s from start to end (the data's generation included)",
        "",
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = "cuda" if torch.cuda.is_available() else "cpu"
    p.add_argument("--device", choices=["cuda", "cpu"], default=default, help=f"default here: {default}")
    p.add_argument("--quick", action="store_true", help="tiny sizes (the CI smoke run)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--write", type=Path, default=None, help="update the gpu_check block of this markdown file"
    )
    p.add_argument("--out", type=Path, default=None, help="write the same block to this file")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every section, print and write the report; 0 if every check passed, else 1."""
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # sb3_ot's rewarders wrap read-only trajectory arrays without copying; torch warns once about it
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    seed_everything(args.seed)
    ctx = Context(torch.device(args.device), QUICK if args.quick else FULL, args.quick, args.seed)
    halfcheetah(ctx.quick)  # generate (or load) the shared states before any section's timing
    results = []
    for number, section in enumerate(SECTIONS, 1):
        results.append(run_section(section, ctx))
        print("\n".join(section_markdown(number, results[-1])), flush=True)
    command = " ".join(["python benchmarks/gpu_check.py", *argv])
    lines = header(ctx, results, command, time.perf_counter() - started)
    for number, res in enumerate(results, 1):
        lines += section_markdown(number, res)
    for path in (p for p in (args.write, args.out) if p is not None):
        write_block(path, "gpu_check", lines[:-1], "Benchmarks")  # [:-1]: no blank line before the end marker
        print(f"wrote {path}")
    print(next(line for line in lines if line.startswith("Result:")))
    return 0 if all(c["passed"] for r in results for c in r["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
