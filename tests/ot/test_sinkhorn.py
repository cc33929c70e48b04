"""sb3_ot.ot against POT: accuracy, batching/padding, conventions, and input errors."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import ot as pot
import pytest
import torch

from sb3_ot import ot

BACKENDS = ["tensorized", "keops"]


def _problem(seed: int, n: int = 120, m: int = 90, d: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(m, d)) + 0.7
    a = rng.uniform(0.2, 1.0, n)
    b = rng.uniform(0.2, 1.0, m)
    return x, y, a / a.sum(), b / b.sum()


def _pot_reference(x, y, a, b, eps, metric="sqeuclidean"):
    C = pot.dist(x, y, metric=metric)
    P = pot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-12, numItermax=200_000)
    return (P * C).sum(1), C


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rel_eps", [1e-2, 1e-3])
def test_matches_pot_log_domain(backend, dtype, rel_eps):
    x, y, a, b = _problem(seed=int(rel_eps * 1e4))
    C = pot.dist(x, y)
    eps = rel_eps * C.max()
    ref, C = _pot_reference(x, y, a, b, eps)
    res = ot.sinkhorn(
        torch.tensor(x, dtype=dtype),
        torch.tensor(y, dtype=dtype),
        a,
        b,
        eps=eps,
        backend=backend,
        return_plan=True,
    )
    assert res.backend == backend
    assert res.row_cost.dtype == dtype and res.plan.dtype == dtype
    P = res.plan.double().numpy()
    np.testing.assert_allclose(P.sum(1), a, atol=0, rtol=1e-3)
    assert np.abs(P.sum(0) - b).sum() <= 1e-3 and np.abs(P.sum(1) - a).sum() <= 1e-3
    rc = res.row_cost.double().numpy()
    assert np.max(np.abs(rc - ref) / ref) < 0.01
    np.testing.assert_allclose(float(res.cost), ref.sum(), rtol=0.01)
    # the potentials rebuild the same plan: P = a b exp((f + g - C) / eps)
    f, g = res.f.double().numpy(), res.g.double().numpy()
    P_dual = a[:, None] * b[None, :] * np.exp((f[:, None] + g[None, :] - C) / eps)
    np.testing.assert_allclose(P_dual, P, atol=1e-3 / P.size, rtol=2e-2 if dtype == torch.float32 else 1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_cost_matches_pot(backend):
    x, y, a, b = _problem(seed=3, d=7)
    eps = 2e-3
    ref, _ = _pot_reference(x, y, a, b, eps, metric="cosine")
    res = ot.sinkhorn(torch.tensor(x), torch.tensor(y), a, b, eps=eps, cost="cosine", backend=backend)
    assert np.max(np.abs(res.row_cost.numpy() - ref) / ref) < 0.01


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_length_batch_equals_pairs_alone(backend):
    rng = np.random.default_rng(5)
    # d=5 as in the float64 test above, whose compiled KeOps formula this reuses (a compile: 30-90 s)
    lengths, m, d = [40, 75, 60], 50, 5
    y = torch.tensor(rng.normal(size=(m, d)))
    xs = [torch.tensor(rng.normal(size=(n, d)) + 0.3) for n in lengths]
    n_max = max(lengths)
    x_pad = torch.zeros(len(xs), n_max, d, dtype=torch.float64)
    w = torch.zeros(len(xs), n_max, dtype=torch.float64)
    for k, x in enumerate(xs):
        x_pad[k, : len(x)] = x
        x_pad[k, len(x) :] = 1e3  # far-away padding must not matter at zero weight
        w[k, : len(x)] = 1.0
    eps = 0.2
    batch = ot.sinkhorn(x_pad, y, a=w, eps=eps, backend=backend, tol=1e-7)
    for k, x in enumerate(xs):
        alone = ot.sinkhorn(x, y, eps=eps, backend=backend, tol=1e-7)
        n = len(x)
        torch.testing.assert_close(batch.row_cost[k, :n], alone.row_cost, rtol=1e-4, atol=1e-9)
        assert float(batch.row_cost[k, n:].abs().sum()) == 0.0  # padding carries no cost
        torch.testing.assert_close(batch.cost[k], alone.cost, rtol=1e-4, atol=0)


def test_cpu_chunks_spread_over_threads_give_the_sequential_result(monkeypatch):
    import importlib
    import threading

    sk = importlib.import_module("sb3_ot.ot.sinkhorn")  # the module (sb3_ot.ot.sinkhorn is the function)

    rng = np.random.default_rng(11)
    x = torch.tensor(rng.normal(size=(5, 40, 3)), dtype=torch.float32)
    y = torch.tensor(rng.normal(size=(30, 3)), dtype=torch.float32)
    w = torch.ones(5, 40)
    w[2, 25:] = 0.0  # padding in one chunk
    monkeypatch.setattr(sk, "_CHUNK_ELEMENTS", 40 * 30)  # one pair per chunk: 5 chunks
    seen: set[str] = set()
    solve_costs = sk._solve_costs

    def recording(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return solve_costs(*args, **kwargs)

    monkeypatch.setattr(sk, "_solve_costs", recording)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        sequential = ot.sinkhorn(x, y, a=w, eps=0.05, tol=1e-6)
        assert seen == {threading.current_thread().name}
        seen.clear()
        torch.set_num_threads(2)
        parallel = ot.sinkhorn(x, y, a=w, eps=0.05, tol=1e-6)
        assert len(seen) == 2 and all(name.startswith("sb3_ot") for name in seen)
        assert torch.get_num_threads() == 2  # restored after the pool
    finally:
        torch.set_num_threads(before)
    for field in ("cost", "row_cost", "f", "g"):
        assert torch.equal(getattr(parallel, field), getattr(sequential, field)), field
    assert parallel.n_iters == sequential.n_iters
    alone = ot.sinkhorn(x[3], y, eps=0.05, tol=1e-6)
    torch.testing.assert_close(parallel.row_cost[3], alone.row_cost, rtol=1e-5, atol=1e-9)


def test_shared_target_equals_explicit_batch():
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.normal(size=(3, 30, 4)))
    y = torch.tensor(rng.normal(size=(25, 4)))
    shared = ot.sinkhorn(x, y, eps=0.1)
    explicit = ot.sinkhorn(x, y.expand(3, 25, 4), eps=0.1)
    torch.testing.assert_close(shared.row_cost, explicit.row_cost)
    assert shared.row_cost.shape == (3, 30) and shared.f.shape == (3, 30) and shared.g.shape == (3, 25)


def test_unbatched_shapes_and_numpy_inputs():
    x, y, a, b = _problem(seed=7, n=20, m=15)
    res = ot.sinkhorn(x, y, a, b, eps=0.5, return_plan=True)
    assert res.cost.shape == () and res.row_cost.shape == (20,) and res.plan.shape == (20, 15)
    assert res.f.shape == (20,) and res.g.shape == (15,)
    assert res.row_cost.dtype == torch.float64  # numpy float64 in, float64 out
    torch.testing.assert_close(res.row_cost.sum(), res.cost)


def test_sinkhorn_matrix_matches_pot_and_feature_solver():
    x, y, a, b = _problem(seed=8, n=50, m=70)
    C = pot.dist(x, y)
    eps = 1e-2 * C.max()
    P = pot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-12, numItermax=100_000)
    res = ot.sinkhorn_matrix(torch.tensor(C), a, b, eps=eps, return_plan=True)
    assert np.max(np.abs(res.row_cost.numpy() - (P * C).sum(1)) / (P * C).sum(1)) < 0.01
    torch.testing.assert_close(res.row_cost, ot.sinkhorn(x, y, a, b, eps=eps).row_cost, rtol=1e-3, atol=1e-9)
    # batched costs, fixed iteration count (a planner's fixed budget)
    Cb = torch.tensor(np.stack([C, C * 2]))
    fixed = ot.sinkhorn_matrix(Cb, eps=eps, n_iters=5)
    assert fixed.row_cost.shape == (2, 50)
    assert fixed.n_iters >= 5


def test_emd_matches_pot_and_a_known_value():
    assert ot.emd([[0.0], [1.0]], [[0.0], [1.0]]) == pytest.approx(0.0, abs=1e-12)
    assert ot.emd([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(5.0)
    x, y, a, b = _problem(seed=9, n=30, m=20)
    want = pot.emd2(a, b, pot.dist(x, y, metric="euclidean"))
    assert ot.emd(x, y, a, b) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=np.full((4, 2), np.nan), y=np.ones((3, 2))), r"x: contains NaN"),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2, 2, 1))), r"y: expected shape \(M, D\) or \(B, M, D\)"),
        (dict(x=np.ones(4), y=np.ones((3, 2))), r"x: expected shape \(N, D\)"),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 5))), r"y: expected the feature dimension D of x \(2\)"),
        (dict(x=np.ones((0, 2)), y=np.ones((3, 2))), r"x: expected a non-empty"),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), a=-np.ones(4)), r"a: expected non-negative weights"),
        (
            dict(x=np.ones((4, 2)), y=np.ones((3, 2)), b=np.zeros(3)),
            r"b: weights of batch element 0 are all zero",
        ),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), a=np.ones(5)), r"a: expected shape \(N,\) = \(4,\)"),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), b=[1.0, np.nan, 1.0]), r"b: contains NaN"),
        (
            dict(x=np.ones((2, 4, 2)), y=np.ones((3, 3, 2))),
            r"y: batch size 3 does not match x's batch size 2",
        ),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), eps=0.0), r"eps: expected a positive finite float"),
        (
            dict(x=np.ones((4, 2)), y=np.ones((3, 2)), eps=float("nan")),
            r"eps: expected a positive finite float",
        ),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), cost="l1"), r"cost: expected 'sqeuclidean' or 'cosine'"),
        (dict(x=np.ones((4, 2)), y=np.ones((3, 2)), backend="gpu"), r"backend: expected 'auto'"),
        (dict(x=[["a", "b"]], y=np.ones((3, 2))), r"x: expected a numeric array"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    kwargs.setdefault("eps", 0.1)
    with pytest.raises(ValueError, match=match):
        ot.sinkhorn(**kwargs)


def test_emd_matrix_batched_plans_with_padding_match_pot():
    rng = np.random.default_rng(4)
    C = rng.uniform(0, 1, (2, 6, 5))
    a = np.ones((2, 6))
    a[1, 4:] = 0  # padding rows
    b = np.array([[1, 1, 1, 1, 1], [2, 1, 0, 1, 1]], dtype=float)  # a padding column
    P = ot.emd_matrix(torch.tensor(C), a, b).numpy()
    assert P.shape == (2, 6, 5)
    assert (P[1, 4:] == 0).all() and (P[1, :, 2] == 0).all()
    np.testing.assert_allclose(P.sum(-1), a / a.sum(-1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(P.sum(-2), b / b.sum(-1, keepdims=True), atol=1e-12)
    for k in range(2):  # the optimal cost of each problem, against POT on the problem without padding
        rows, cols = a[k] > 0, b[k] > 0
        want = pot.emd2(a[k][rows] / a[k].sum(), b[k][cols] / b[k].sum(), C[k][np.ix_(rows, cols)])
        assert (P[k] * C[k]).sum() == pytest.approx(want, rel=1e-9)
    assert ot.emd_matrix(torch.tensor(C[0], dtype=torch.float32)).dtype == torch.float32  # unbatched
    with pytest.raises(
        ValueError, match=r"C: contains NaN \(first at index \(0, 0, 1\)\); expected finite values"
    ):
        ot.emd_matrix(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"C: expected \(N, M\) or \(B, N, M\)"):
        ot.emd_matrix(np.ones(3))


def test_bad_cost_matrix_and_emd_input():
    with pytest.raises(ValueError, match=r"C: expected a non-empty \(N, M\) or \(B, N, M\)"):
        ot.sinkhorn_matrix(np.ones(3), eps=0.1)
    with pytest.raises(ValueError, match=r"C: contains inf"):
        ot.sinkhorn_matrix(np.array([[0.0, np.inf]]), eps=0.1)
    with pytest.raises(ValueError, match=r"n_iters: expected a positive int"):
        ot.sinkhorn_matrix(np.ones((2, 2)), eps=0.1, n_iters=0)
    with pytest.raises(ValueError, match=r"y: expected the feature dimension D of x \(2\)"):
        ot.emd(np.ones((3, 2)), np.ones((3, 3)))


def test_keops_without_a_compiler_falls_back_with_a_warning(tmp_path):
    """A machine with no C++ compiler: the KeOps probe fails, sinkhorn warns once and stays dense."""
    script = textwrap.dedent(
        """
        import warnings, torch
        from sb3_ot import ot
        x, y = torch.randn(6, 3), torch.randn(5, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r1 = ot.sinkhorn(x, y, eps=0.5, backend="keops")
            r2 = ot.sinkhorn(x, y, eps=0.5, backend="keops")
        msgs = [str(w.message) for w in caught if "KeOps backend is unavailable" in str(w.message)]
        print(r1.backend, r2.backend, len(msgs))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "KEOPS_CACHE_FOLDER")}
    env["PATH"] = os.path.dirname(sys.executable)  # no g++ on PATH
    env["KEOPS_CACHE_FOLDER"] = str(tmp_path / "keops")
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-3:] == ["tensorized", "tensorized", "1"], out.stdout + out.stderr


def test_eps_scaling_path_matches_pot():
    x, y, a, b = _problem(seed=11)
    eps = 1e-3 * pot.dist(x, y).max()
    ref, _ = _pot_reference(x, y, a, b, eps)
    res = ot.sinkhorn(x, y, a, b, eps=eps, eps_scaling=4.0)
    assert res.marginal_error < 1e-4
    assert np.max(np.abs(res.row_cost.numpy() - ref) / ref) < 0.01


def test_plot_coupling_writes_a_png(tmp_path):
    from sb3_ot.ot.plot import plot_coupling

    res = ot.sinkhorn(
        np.random.default_rng(0).normal(size=(30, 3)), np.zeros((20, 3)) + 0.1, eps=0.1, return_plan=True
    )
    path = plot_coupling(res.plan, res.row_cost, tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]  # no temporary file left behind


def test_overflowing_float32_features_raise_instead_of_returning_nan():
    """Features of magnitude 1e19 square past float32's range: NaN costs must not come back as a result
    (NaN > tol is False, so no convergence warning would fire); float64 solves the same problem."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 5, generator=g) * 1e19, torch.randn(30, 5, generator=g) * 1e19
    with pytest.raises(
        FloatingPointError, match=r"sinkhorn: the transport costs are not finite.*float32.*float64"
    ):
        ot.sinkhorn(x, y, eps=0.01, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # not converged at this cap; finite is the point
        res = ot.sinkhorn(x.double(), y.double(), eps=0.01, max_iter=50)
    assert torch.isfinite(res.row_cost).all()


def test_unconverged_solve_warns():
    x, y, a, b = _problem(seed=12)
    with pytest.warns(RuntimeWarning, match=r"stopped at max_iter=2 with marginal error"):
        ot.sinkhorn(x, y, a, b, eps=1e-3 * pot.dist(x, y).max(), max_iter=2)


def test_cheap_zero_weight_columns_do_not_stall_the_dense_solver():
    """Zero-weight columns far cheaper than the weighted ones (AILOT's start alignment on a periodic
    task) once kept the kernel at its floor and ran to max_iter; they must change nothing."""
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.normal(size=(20, 3)), dtype=torch.float32)
    y_far = torch.tensor(rng.normal(size=(60, 3)) + 3.0, dtype=torch.float32)
    y = torch.cat([x + 0.01, y_far])  # the first 20 columns sit on the agent but carry no mass
    b = torch.cat([torch.zeros(20), torch.ones(60)])
    masked = ot.sinkhorn(x, y, b=b, eps=0.01, backend="tensorized", max_iter=3000)
    sliced = ot.sinkhorn(x, y_far, eps=0.01, backend="tensorized", max_iter=3000)
    assert masked.n_iters < 1000 and masked.marginal_error < 1e-4
    torch.testing.assert_close(masked.row_cost, sliced.row_cost, rtol=1e-3, atol=1e-7)


def test_scaling_iterations_agree_in_numpy_and_torch():
    """The mat-vec loop runs on numpy views on a CPU and in torch on CUDA: one code, two namespaces."""
    from sb3_ot.ot import _dense

    rng = np.random.default_rng(12)
    C = torch.tensor(rng.uniform(0, 1, size=(2, 30, 20)))
    a = torch.full((2, 30), 1 / 30, dtype=torch.float64)
    b = torch.full((2, 20), 1 / 20, dtype=torch.float64)
    b[1, 15:] = 0.0
    b[1] /= b[1].sum()  # padded columns
    K = torch.exp(-C / 0.05)
    args = (400, True, 1e-9, 4)
    relax_np, relax_t = _dense._Relaxation(1.97, 16), _dense._Relaxation(1.97, 16)
    u_np, v_np, it_np, err_np, done_np = _dense._scale(np, K.numpy(), a.numpy(), b.numpy(), *args, relax_np)
    u_t, v_t, it_t, err_t, done_t = _dense._scale(torch, K, a, b, *args, relax_t)
    assert (it_np, done_np) == (it_t, done_t) and done_t
    assert relax_np.omega == pytest.approx(relax_t.omega) and relax_t.omega > 1.0  # over-relaxed
    np.testing.assert_allclose(u_t.numpy(), u_np, rtol=1e-7)  # exp/log differ in the last bits
    np.testing.assert_allclose(v_t.numpy(), v_np, rtol=1e-7)
    assert err_t < 1e-9 and err_np < 1e-9


def _gait(n: int, period: float, phase: float, noise: float, rng) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / period
    x = np.stack([np.sin(t + phase), np.cos(t + phase), np.sin(2 * t + phase), 0.3 * np.cos(3 * t)], 1)
    return x + noise * rng.normal(size=x.shape)


def test_over_relaxation_converges_to_the_plain_fixed_point_in_far_fewer_iterations():
    """Two periodic "gaits" match in many near-equal ways: plain Sinkhorn contracts slowly there
    (the expert-level HalfCheetah case). The tuned over-relaxation reaches the same plan."""
    from sb3_ot.ot import _dense

    rng = np.random.default_rng(13)
    x = torch.tensor(_gait(200, 26.25, 0.3, 0.05, rng))
    y = torch.tensor(_gait(200, 25.0, 0.0, 0.0, rng))
    C = ot.cost_matrix(x[None], y, "sqeuclidean") / 4
    a = torch.full((1, 200), 1 / 200, dtype=C.dtype)
    b = torch.full((1, 200), 1 / 200, dtype=C.dtype)
    solve = functools.partial(_dense.solve_dense, C, a, b, 0.01, tol=1e-7, max_iter=100_000)
    plain, tuned, high = solve(max_omega=1.0), solve(), solve(max_omega=1.99)
    assert plain.n_iters > 1000
    assert tuned.n_iters < plain.n_iters / 5 and high.n_iters < plain.n_iters / 5
    for sol in (tuned, high):
        assert sol.marginal_error < 1e-7
        torch.testing.assert_close((sol.kernel * C).sum(-1), (plain.kernel * C).sum(-1), rtol=1e-4, atol=1e-9)
        torch.testing.assert_close(sol.g - sol.g.mean(), plain.g - plain.g.mean(), rtol=0, atol=1e-5)


def test_relaxed_update_never_lowers_the_dual_objective():
    from sb3_ot.ot import _dense

    rng = np.random.default_rng(14)
    old = np.exp(rng.normal(scale=3.0, size=(50, 40)))
    new = np.exp(rng.normal(scale=3.0, size=(50, 40)))
    w = rng.dirichlet(np.ones(40), size=50)

    def objective(s):  # the dual objective's dependence on this half-step's scaling, up to a constant
        return (w * (np.log(s / new) - s / new)).sum(-1)

    for omega in (1.5, 1.9, 1.99):
        out = _dense._relaxed(np, old, new, omega, w)
        assert (objective(out) >= objective(old) - 1e-12).all()
        relaxed = old ** (1 - omega) * new**omega
        kept = np.isclose(out, relaxed).all(-1)
        assert kept.any() and (~kept).any()  # some items over-relaxed, some fell back
        np.testing.assert_array_equal(out[~kept], new[~kept])
