"""The package imports the same way from a plain (non-editable) install as from the editable one."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = "from sb3_ot import ot; from sb3_ot.data import Trajectory; import sb3_ot.wrappers as w; print(w.__file__)"


def test_plain_install_maps_wrappers_into_the_package(tmp_path):
    target = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    assert (target / "sb3_ot" / "wrappers" / "__init__.py").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(target)


def test_current_install_imports():
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent.name == "wrappers"


HEAVY = ("stable_baselines3", "minari", "d3rlpy", "gym", "gymnasium", "torch")


def _loaded(code: str) -> tuple[set[str], str]:
    """Top-level packages loaded by ``code`` in a fresh interpreter, and its stderr."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().splitlines()[-1].split()), out.stderr


def test_the_core_imports_no_rl_framework():
    """The OT engine, encoders and rewarders load without SB3, Minari, d3rlpy or gym(nasium)."""
    for module in ("sb3_ot.ot", "sb3_ot.rewards", "sb3_ot.encoders", "sb3_ot.data", "sb3_ot.nn"):
        loaded, _ = _loaded(f"import {module}")
        assert not loaded & set(HEAVY[:-1]), f"{module} imports {sorted(loaded & set(HEAVY[:-1]))}"


def test_help_is_light_and_quiet():
    """`sb3-ot --help` imports no torch or RL framework and prints nothing on stderr."""
    loaded, err = _loaded(
        "from sb3_ot.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert err == ""
    for argv in (["dataset", "build", "--help"], ["imitate", "--help"], ["dream", "--help"]):
        out = subprocess.run([sys.executable, "-m", "sb3_ot.cli", *argv], capture_output=True, text=True)
        assert out.returncode == 0 and out.stderr == "" and "usage" in out.stdout
