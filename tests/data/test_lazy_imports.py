"""`sb3_ot.data` and `sb3_ot.datasets` import their names on first use: the trajectory core stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

HEAVY = ("stable_baselines3", "minari", "d3rlpy", "gymnasium", "gym", "torch", "h5py")


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip())


@pytest.mark.parametrize(
    "code",
    [
        "import sb3_ot.data",
        "import sb3_ot.data.trajectory",
        "from sb3_ot.data import Trajectory, normalized_score, top_episodes",
        "from sb3_ot.datasets.kinds import KINDS, SUITES, dataset_id",
        "from sb3_ot.datasets.expert_configs import EXPERT_CONFIGS, expert_config",
        "import sb3_ot.datasets",
        "import sb3_ot.planners",
    ],
)
def test_light_imports_pull_in_no_rl_stack(code):
    assert _heavy_modules_after(code) == []


@pytest.mark.parametrize("package", ["sb3_ot.data", "sb3_ot.datasets", "sb3_ot.planners"])
def test_every_public_name_resolves_to_the_object_not_a_module(package):
    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        assert not isinstance(value, types.ModuleType), name
        assert name in dir(pkg)
    # importing every submodule binds them on the package; the exported names must still win
    for module in ("rollouts", "minari_io", "summary", "d3rlpy_io", "envs"):
        importlib.import_module(f"sb3_ot.data.{module}")
    from sb3_ot.data import rollout

    assert isinstance(rollout, types.FunctionType)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nope'"):
        pkg.nope  # noqa: B018


def test_names_that_moved_still_import_from_sb3_ot_data():
    from sb3_ot.data import (
        KINDS,
        ExpertRun,
        build_dataset,
        build_suite,
        dataset_id,
        list_datasets,
        train_expert,
    )
    from sb3_ot.datasets import build as build_module
    from sb3_ot.datasets import experts as experts_module
    from sb3_ot.datasets import kinds as kinds_module

    assert build_dataset is build_module.build_dataset and build_suite is build_module.build_suite
    assert list_datasets is build_module.list_datasets
    assert train_expert is experts_module.train_expert and ExpertRun is experts_module.ExpertRun
    assert KINDS is kinds_module.KINDS and dataset_id is kinds_module.dataset_id


def _package(tmp_path, monkeypatch, body: str):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    (pkg / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n\nfrom sb3_ot.data._lazy import lazy_exports\n\n"
        + body
        + "\n__getattr__, __dir__ = lazy_exports(globals())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("lazypkg")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("lazypkg")


def test_lazy_exports_reads_the_type_checking_block(tmp_path, monkeypatch):
    pkg = _package(
        tmp_path, monkeypatch, "if TYPE_CHECKING:\n    from lazypkg.mod import f, g\n\n__all__ = ['f', 'g']\n"
    )
    assert "lazypkg.mod" not in sys.modules
    assert pkg.g() == 2 and "lazypkg.mod" in sys.modules


def test_lazy_exports_refuses_drift_between_all_and_the_imports(tmp_path, monkeypatch):
    with pytest.raises(
        ImportError, match=r"lazypkg: __all__ and the TYPE_CHECKING imports differ on \['g'\]"
    ):
        _package(
            tmp_path, monkeypatch, "if TYPE_CHECKING:\n    from lazypkg.mod import f, g\n\n__all__ = ['f']\n"
        )


def test_lazy_exports_refuses_a_name_that_is_also_a_submodule(tmp_path, monkeypatch):
    with pytest.raises(ImportError, match=r"exported names \['mod'\] are also names of its submodules"):
        _package(
            tmp_path,
            monkeypatch,
            "if TYPE_CHECKING:\n    from lazypkg.mod import f\n    from lazypkg.other import mod\n\n"
            "__all__ = ['f', 'mod']\n",
        )
