"""sb3-ot: optimal-transport imitation for Gymnasium, Stable-Baselines3 and d3rlpy.

All OT goes through :mod:`sb3_ot.ot`; trajectories through :class:`sb3_ot.data.Trajectory`.
"""

__version__ = "0.1.0"
