"""Keep third-party notices that are not the user's concern off their terminal."""

from __future__ import annotations

import contextlib
import io
import sys

__all__ = ["quiet_legacy_gym"]


def quiet_legacy_gym() -> None:
    """Import the legacy ``gym`` package, if installed, with its "Gym has been unmaintained" notice
    swallowed. d3rlpy depends on ``gym`` and Stable-Baselines3 imports it when present, so the notice
    appears in every run although sb3-ot uses gymnasium throughout. Later imports of ``gym`` print
    nothing (the module is cached)."""
    if "gym" in sys.modules:
        return
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            import gym  # noqa: F401
        except Exception:  # not installed, or broken: either way nothing of ours depends on it
            pass
