"""ZILOT (Rupf et al. 2025): zero-shot imitation of a goal sequence by OT planning in a learned
goal-conditioned model, and the paper's myopic baselines, as an SB3 policy.

* :class:`GoalModel` / :class:`GoalModelConfig` / :data:`PRESETS` -- the goal-conditioned latent model
  (dynamics, ``Q``, ``V(s, g)``, ``W(g1, g2)``, ``pi(z, g)``) learned offline (module ``model``).
* :class:`Planner` / :class:`PlannerConfig` / :data:`METHODS` -- ZILOT, MPC+Cls, Pi+Cls (``planner``);
  :class:`ICEMConfig` -- the trajectory optimiser's settings (``icem``).
* :class:`ZILOTPolicy` -- the planners as an SB3 ``BasePolicy`` (``policy``).
* :class:`GoalTask`, :func:`make_task`, :func:`make_tasks`, :func:`reset_to_first_goal`,
  :class:`GoalTracker`, :func:`w_min`, :func:`goal_fraction`, :func:`run_task` -- the paper's
  evaluation tasks and metrics (``tasks``).

Names load on first use (``import sb3_ot.planners`` imports no torch or SB3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sb3_ot.data._lazy import lazy_exports

if TYPE_CHECKING:
    from sb3_ot.planners.icem import ICEMConfig
    from sb3_ot.planners.model import PRESETS, GoalModel, GoalModelConfig
    from sb3_ot.planners.planner import METHODS, Planner, PlannerConfig
    from sb3_ot.planners.policy import ZILOTPolicy
    from sb3_ot.planners.tasks import (
        TASK_FAMILIES,
        GoalTask,
        GoalTracker,
        goal_fraction,
        make_task,
        make_tasks,
        reset_to_first_goal,
        run_task,
        task_names,
        w_min,
    )

__all__ = [
    "METHODS",
    "PRESETS",
    "TASK_FAMILIES",
    "GoalModel",
    "GoalModelConfig",
    "GoalTask",
    "GoalTracker",
    "ICEMConfig",
    "Planner",
    "PlannerConfig",
    "ZILOTPolicy",
    "goal_fraction",
    "make_task",
    "make_tasks",
    "reset_to_first_goal",
    "run_task",
    "task_names",
    "w_min",
]

__getattr__, __dir__ = lazy_exports(globals())
