"""The GPU check's CPU smoke run: ``benchmarks/gpu_check.py --device cpu --quick`` runs end to end.

The script is what a CUDA user runs once; this test keeps it working between such runs (the same code
on tiny problems, KeOps compiled for the CPU on one of them). About 25 s here with KeOps' compiled
formulas cached (``~/.cache/sb3_ot/keops``), about 65 s on a fresh cache.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("OT engine", "AILOT relabel", "Online wrapper overhead")


def _section(markdown: str, title: str) -> str:
    """The text of the ``### N. title ...`` section, up to the next section or the block's end."""
    match = re.search(
        rf"^### \d+\. {re.escape(title)}.*?(?=^### |<!-- gpu_check:end -->)", markdown, re.S | re.M
    )
    assert match, f"no section {title!r} in:\n{markdown}"
    return match.group(0)


def test_gpu_check_quick_cpu_run(tmp_path):
    out = tmp_path / "gpu.md"
    cmd = [sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    markdown = out.read_text()
    assert "<!-- gpu_check:start -->" in markdown and "Device: cpu" in markdown
    for title in SECTIONS:
        text = _section(markdown, title)
        figures = [line for line in text.splitlines() if line.startswith("| ") and re.search(r"\d", line)]
        assert len(figures) >= 2, f"{title}: no table of figures:\n{text}"
        checks = [line for line in figures if line.rstrip().endswith(("| PASS |", "| FAIL |"))]
        assert checks, f"{title}: no checks:\n{text}"
        assert all(line.rstrip().endswith("| PASS |") for line in checks), f"{title}: a check failed:\n{text}"
    assert "keops" in _section(markdown, "OT engine"), "KeOps did not run on the CPU's tiny problem"
    assert re.search(r"Result: \*\*all \d+ checks passed\*\*", markdown)
