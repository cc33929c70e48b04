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
