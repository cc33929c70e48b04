"""iCEM (Pinneri et al. 2020), the trajectory optimiser of ZILOT's planners, batched over several envs.

As the official ZILOT code configures it (``third_party/mbrl/trajectory_opt.py``): ``population``
action sequences of length ``horizon`` per env, drawn around a mean with temporally coloured noise
(power spectrum ``1/f**beta``, beta 2: smooth, low-frequency action sequences), clipped to ``[-1, 1]``;
the ``elites`` best update the mean and variance with ``momentum`` (``new = m * old + (1 - m) * elite
statistic``); the elites of the previous iteration are carried into the next population, those of the
previous env step shifted by one step into the first, and the mean itself into the last. The returned
action is the first of the single best sequence seen (not the elites' mean). The mean starts at 0 and
the standard deviation at ``init_std`` on every call (the official ``keep_last_solution=False``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sb3_ot._args import check_float, check_int

__all__ = ["ICEMConfig", "colored_noise", "icem"]


@dataclass(frozen=True)
class ICEMConfig:
    """iCEM settings (defaults: the official ZILOT config; the maze uses ``horizon=64``)."""

    population: int = 512
    elites: int = 6
    iterations: int = 4
    horizon: int = 16
    beta: float = 2.0
    momentum: float = 0.1
    init_std: float = 0.5

    def __post_init__(self) -> None:
        func = "ICEMConfig"
        for name in ("population", "elites", "iterations", "horizon"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        if self.elites > self.population:
            raise ValueError(f"{func}: elites must be <= population; got {self.elites} > {self.population}")
        if self.horizon < 2:
            raise ValueError(f"{func}: horizon must be >= 2 (coloured noise over time); got {self.horizon}")
        check_float(self.beta, "beta", func, low=0.0, low_open=False)
        check_float(self.momentum, "momentum", func, low=0.0, high=1.0, low_open=False)
        check_float(self.init_std, "init_std", func)


def colored_noise(
    beta: float, shape: tuple[int, ...], steps: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Unit-variance Gaussian noise ``[*shape, steps]`` whose power spectrum along the last axis is
    ``1/f**beta`` (``colorednoise.powerlaw_psd_gaussian``, as iCEM draws it; ``fmin = 1/steps``)."""
    f = torch.fft.rfftfreq(steps, device=device)
    f[0] = 1.0 / steps
    scale = f ** (-beta / 2.0)
    w = scale[1:].clone()
    w[-1] *= (1 + steps % 2) / 2.0
    sigma = 2.0 * torch.sqrt((w**2).sum()) / steps
    size = (*shape, len(f))
    real = torch.randn(size, generator=generator, device=device) * scale
    imag = torch.randn(size, generator=generator, device=device) * scale
    if steps % 2 == 0:  # the Nyquist component is real
        imag[..., -1] = 0.0
        real[..., -1] *= math.sqrt(2.0)
    imag[..., 0] = 0.0  # so is the mean
    real[..., 0] *= math.sqrt(2.0)
    return torch.fft.irfft(torch.complex(real, imag), n=steps) / sigma


def icem(
    objective: Callable[[torch.Tensor], torch.Tensor],
    n_problems: int,
    act_dim: int,
    cfg: ICEMConfig,
    generator: torch.Generator,
    device: torch.device,
    warm: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise ``objective`` over action sequences for ``n_problems`` envs at once.

    Parameters
    ----------
    objective : callable
        ``actions [E, P, H, A] -> values [E, P]`` (higher is better; NaN counts as the worst).
    n_problems, act_dim : int
        ``E`` envs planned together and the action size ``A`` (actions live in ``[-1, 1]``).
    cfg : ICEMConfig
        Population ``P``, elites, iterations, horizon ``H``, noise colour, momentum, initial std.
    generator, device : torch.Generator, torch.device
        Where the samples are drawn.
    warm : Tensor or None
        ``[E, elites, H, A]``: the previous step's elites, shifted one step into the first population.

    Returns
    -------
    best : Tensor ``[E, H, A]``, the best sequence seen per env (act on ``best[:, 0]``).
    elites : Tensor ``[E, elites, H, A]``, the last elites (the next step's ``warm``).
    """
    E, P, H, A, K = n_problems, cfg.population, cfg.horizon, act_dim, cfg.elites
    mean = torch.zeros(E, H, A, device=device)
    var = torch.full((E, H, A), cfg.init_std**2, device=device)
    best = torch.zeros(E, H, A, device=device)
    best_value = torch.full((E,), -math.inf, device=device)
    elites = warm
    for it in range(cfg.iterations):
        noise = colored_noise(cfg.beta, (E, P, A), H, generator, device).transpose(-1, -2)  # [E, P, H, A]
        samples = (mean[:, None] + var.sqrt()[:, None] * noise).clamp(-1.0, 1.0)
        if elites is not None and it == 0:  # last step's elites, one step on; their last action is new
            samples[:, :K, :-1] = elites[:, :, 1:]
        elif elites is not None:
            samples[:, :K] = elites
        if it == cfg.iterations - 1:
            samples[:, 0] = mean
        values = torch.nan_to_num(objective(samples), nan=-math.inf)  # [E, P]
        top_values, top = values.topk(K, dim=1)
        elites = torch.gather(samples, 1, top[:, :, None, None].expand(E, K, H, A))
        better = top_values[:, 0] > best_value
        best = torch.where(better[:, None, None], elites[:, 0], best)
        best_value = torch.where(better, top_values[:, 0], best_value)
        mean = cfg.momentum * mean + (1.0 - cfg.momentum) * elites.mean(1)
        var = cfg.momentum * var + (1.0 - cfg.momentum) * elites.var(1, unbiased=False)
    assert elites is not None
    return best, elites
