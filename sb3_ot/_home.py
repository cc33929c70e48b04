"""Where sb3-ot keeps what it builds once and reuses: trained experts, compiled KeOps formulas."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """sb3-ot's cache folder: ``$SB3_OT_HOME`` or ``~/.cache/sb3_ot`` (not created here)."""
    return Path(os.environ.get("SB3_OT_HOME", Path.home() / ".cache" / "sb3_ot")).expanduser()
