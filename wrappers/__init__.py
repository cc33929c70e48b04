"""Gymnasium env wrappers, SB3 VecEnv wrappers/callbacks and dataset wrappers (installed as ``sb3_ot.wrappers``).

The OT reward wrappers arrive with the rewarders; this package already installs and imports.
"""

__all__: list[str] = []
