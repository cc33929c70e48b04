"""What every benchmark report shares: the machine lines and replacing its marked block in a markdown file."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

import torch

from sb3_ot._files import write_text


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


def accelerator(device: torch.device) -> str:
    """The GPU behind ``device`` (name, memory, CUDA version), or ``"no GPU"``."""
    if device.type != "cuda":
        return "no GPU"
    props = torch.cuda.get_device_properties(device)
    return (
        f"{torch.cuda.get_device_name(device)}, {props.total_memory / 2**30:.0f} GiB, "
        f"CUDA {torch.version.cuda}"
    )


def provenance(command: str) -> list[str]:
    """The lines under a block's title: command, date, machine (blank lines around)."""
    return [
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}",
        "",
    ]


def write_block(path: Path, name: str, lines: list[str], title: str) -> None:
    """Put ``lines`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path`` (atomically).

    The block replaces an existing one, else is appended; a missing file starts with ``# title``.
    """
    block = "\n".join([f"<!-- {name}:start -->", *lines, f"<!-- {name}:end -->"]) + "\n"
    text = path.read_text() if path.exists() else f"# {title}\n\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->\n", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    write_text(path, text)  # the project's one atomic writer: a crash leaves the old file or the new one
