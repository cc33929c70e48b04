"""What every benchmark report shares: the machine line and replacing its marked block in a markdown file."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch


def machine() -> str:
    """CPU model, cores, torch version and threads."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def write_block(path: Path, name: str, lines: list[str], title: str) -> None:
    """Put ``lines`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path`` (atomically).

    The block replaces an existing one, else is appended; a missing file starts with ``# title``.
    """
    block = "\n".join([f"<!-- {name}:start -->", *lines, f"<!-- {name}:end -->"]) + "\n"
    text = path.read_text() if path.exists() else f"# {title}\n\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->\n", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
