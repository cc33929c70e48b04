import subprocess
import sys

from sb3_ot.cli import main


def test_help_lists_the_commands(capsys):
    assert main([]) == 0
    assert "couple" in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "sb3_ot.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "couple" in out.stdout


def test_couple_prints_costs_and_saves_a_png(tmp_path, capsys):
    png = tmp_path / "coupling.png"
    assert main(["couple", "--steps", "60", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "same gait, noisy" in out and "random actions" in out
    costs = {
        line.split()[0]: float(line.split()[-2])
        for line in out.splitlines()
        if line.startswith(("same", "random"))
    }
    assert costs["same"] < costs["random"]  # the noisy expert is closer to the expert than random actions
    assert png.read_bytes()[:4] == b"\x89PNG"
