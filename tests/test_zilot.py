"""``sb3-ot zilot`` end to end on a tiny goal model: every method runs the paper's task from its first
goal, the table, the PNG and results.json come out; bad settings fail before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sb3_ot.cli import main
from sb3_ot.data import rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import FetchController
from sb3_ot.planners.model import GoalModel
from sb3_ot.zilot import ZilotConfig, run_zilot

TINY_PLANNER = {"population": 16, "elites": 2, "iterations": 1, "horizon": 4}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    env = make_env("FetchPush-v4")
    trajs = rollout(env, FetchController(env), n_episodes=3, seed=0)
    env.close()
    model = GoalModel(env_id="FetchPush-v4", latent_dim=16, enc_dim=32, mlp_dim=32, batch_size=32)
    return model.fit(trajs, n_updates=10, progress=False).save(tmp_path_factory.mktemp("zilot") / "gm.pt")


def test_run_zilot_writes_the_table_plot_and_results(model_path, tmp_path):
    cfg = ZilotConfig(
        tasks=("L-sparse",),
        n_episodes=2,
        seeds=(0, 1),
        model=str(model_path),
        planner=TINY_PLANNER,
        out_dir=str(tmp_path),
        progress=False,
    )
    lines: list[str] = []
    result = run_zilot(cfg, echo=lines.append)
    assert [r["method"] for r in result["rows"]] == ["zilot", "mpc+cls", "pi+cls"]
    for row in result["rows"]:
        assert row["episodes"] == 4 and 0.0 <= row["goal_fraction"] <= 1.0 and np.isfinite(row["w_min"])
    ep = result["episodes"]["zilot"][1][1]
    assert ep["task"] == "L-sparse" and ep["variant"] == 1 and ep["step_seconds"] > 0
    assert (tmp_path / "paths.png").stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["method"] == "zilot"
    assert any(line.startswith("zilot ") and "±" in line for line in lines)


def test_bad_settings_fail_before_any_work(model_path, capsys):
    with pytest.raises(ValueError, match="env must be one of"):
        ZilotConfig(env="Pendulum-v1")
    with pytest.raises(ValueError, match=r"tasks\[\.\.\.\] must be one of"):
        ZilotConfig(tasks=("O-dense",))
    with pytest.raises(ValueError, match=r"unknown settings \['populations'\]"):
        ZilotConfig(planner={"populations": 3})
    with pytest.raises(ValueError, match="is not a file"):
        ZilotConfig(model="/nonexistent/gm.pt")
    assert main(["zilot", "--method", "zilot", "--episodes", "0", "--model", str(model_path)]) == 2
    assert "n_episodes must be a positive int" in capsys.readouterr().err


@pytest.mark.parametrize("env", ["FetchPush-v4", "FetchPickAndPlace-v4", "PointMaze_Medium-v3"])
def test_zoo_style_file_is_the_cpu_preset(env):
    from pathlib import Path

    from sb3_ot.zilot import read_config_file

    path = Path(__file__).resolve().parents[1] / "zoo_configs" / "zilot.yml"
    from_file = ZilotConfig(env=env, **read_config_file(path, env))
    default = ZilotConfig(env=env)
    assert from_file.model_settings == default.model_settings
    assert from_file.planner_settings == default.planner_settings
    assert from_file.updates == default.updates
    with pytest.raises(ValueError, match="has no entry for 'Pendulum-v1'"):
        read_config_file(path, "Pendulum-v1")


def test_presets_set_the_in_data_target_w_expectile_and_the_mazes_cpu_planner():
    maze = {p: ZilotConfig(env="PointMaze_Medium-v3", preset=p) for p in ("cpu", "paper")}
    assert (maze["paper"].planner_settings["horizon"], maze["paper"].planner_settings["population"]) == (
        64,
        512,
    )
    assert (maze["cpu"].planner_settings["horizon"], maze["cpu"].planner_settings["population"]) == (32, 128)
    assert ZilotConfig(preset="cpu").planner_settings["horizon"] == 16
    # the maze's cpu goal model trains 10,000 updates, Fetch's the preset's 40,000; paper keeps its own
    assert (maze["cpu"].updates, maze["paper"].updates, ZilotConfig(preset="cpu").updates) == (
        10_000,
        600_000,
        40_000,
    )
    assert ZilotConfig(env="PointMaze_Medium-v3", n_updates=7).updates == 7
    assert ZilotConfig(preset="cpu").model_settings["td_action"] == "data"
    assert ZilotConfig(preset="paper").model_settings["td_action"] == "policy"
    # W at the 0.98 expectile at cpu (the data target's W is slower than the expert); official at paper
    for env in ("FetchPush-v4", "FetchPickAndPlace-v4"):
        assert ZilotConfig(env=env).model_settings["w_expectile"] == 0.98
        assert "w_expectile" not in ZilotConfig(env=env, preset="paper").model_settings
    assert ZilotConfig(env="PointMaze_Medium-v3").model_settings["w_expectile"] == 0.98
    assert "w_expectile" not in ZilotConfig(env="PointMaze_Medium-v3", preset="paper").model_settings
    assert ZilotConfig(goal_model={"w_expectile": 0.5}).model_settings["w_expectile"] == 0.5
    assert "w_expectile" not in ZilotConfig(goal_model={"value_bins": 51}).model_settings
    with pytest.raises(ValueError, match="w_expectile applies to a regressed W"):
        ZilotConfig(goal_model={"value_bins": 51, "w_expectile": 0.9})
    # an explicit setting still wins over the preset's
    assert ZilotConfig(env="PointMaze_Medium-v3", planner={"horizon": 64}).planner_settings["horizon"] == 64


def test_a_trained_goal_model_is_reused_only_for_the_same_settings_and_data(tmp_path, monkeypatch):
    """``out/goal_model.pt`` is reused when its settings and its data (kinds, sizes: the sidecar
    ``goal_model.data.json``) are the run's; a model of other data is trained anew, not reused."""
    from sb3_ot import zilot

    env = make_env("FetchPush-v4")
    trajs = rollout(env, FetchController(env), n_episodes=3, seed=0)
    env.close()
    tiny = {"latent_dim": 16, "enc_dim": 32, "mlp_dim": 32, "batch_size": 32, "n_updates": 5}
    cfg = ZilotConfig(goal_model=tiny, out_dir=str(tmp_path), progress=False)
    monkeypatch.setattr(zilot, "_load_data", lambda cfg, echo: trajs)  # the env's data: 3 real episodes
    lines: list[str] = []
    first = zilot._goal_model(cfg, tmp_path, lines.append)
    sidecar = json.loads((tmp_path / "goal_model.data.json").read_text())
    assert sidecar == {
        "env": "FetchPush-v4",
        "kinds": ["expert", "medium", "random"],
        "dataset_steps": 100_000,
    }
    again = zilot._goal_model(cfg, tmp_path, lines.append)
    assert "reused" in lines[-1] and again.n_updates == first.n_updates == 5
    monkeypatch.setitem(zilot.ENV_PRESETS["FetchPush-v4"], "kinds", ("expert", "noisy"))
    zilot._goal_model(cfg, tmp_path, lines.append)
    assert "training a new one" in lines[-2] and "reused" not in lines[-1]
    assert json.loads((tmp_path / "goal_model.data.json").read_text())["kinds"] == ["expert", "noisy"]
