"""``AdversarialRewardCallback``: trains an :class:`~sb3_ot.rewards.AdversarialRewarder` while SB3 learns."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback

from sb3_ot.rewards.adversarial import AdversarialRewarder

__all__ = ["AdversarialRewardCallback"]


class AdversarialRewardCallback(BaseCallback):
    """Update the discriminator at the end of every rollout, on the imagined pairs the rollout scored.

    ``model.learn(n, callback=AdversarialRewardCallback(rewarder))`` where ``rewarder`` is the imagination
    env's reward. The rollout's rewards were paid by the discriminator as it was during the rollout
    (CMIL updates it with the policy, on the same imagined batch). Logs the discriminator's loss, its
    accuracy on expert and on imagined pairs and its mean output on each (``adv/...``), so a
    discriminator that collapses (accuracy 0.5 on both, or 1.0 on both) is seen in the logs.
    """

    def __init__(self, rewarder: AdversarialRewarder, verbose: int = 0) -> None:
        super().__init__(verbose)
        if not isinstance(rewarder, AdversarialRewarder):
            raise ValueError(
                f"AdversarialRewardCallback: rewarder must be an AdversarialRewarder; got {type(rewarder).__name__}"
            )
        self.rewarder = rewarder
        self.history: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        metrics = self.rewarder.update()
        if not metrics:
            raise RuntimeError(
                "AdversarialRewardCallback: the rollout scored no imagined pairs; is the rewarder the env's reward?"
            )
        self.history.append(metrics)
        for name, value in metrics.items():
            self.logger.record(f"adv/{name}", value)
