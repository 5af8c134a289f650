"""Recipe: the generic deep exoplanet detector (``inversa exo train``).

Data: ``cubes`` simulated ADI sequences (:func:`inversa.exo.simulate.simulate`, seeds
``seed0 + i``, never the benchmark's 100-105 / 600-605), with their observing conditions
drawn per cube so that the model does not learn one instrument state: frames in
{32, 48, 64}, field rotation 20-60 degrees, star flux 1e6-1e7 photons (log-uniform), AO
fitting error 0.18-0.32 rad, static aberrations 0.06-0.14 rad, drift 0.06-0.18 rad. Plus
any user observations (``extra``). Each cube gives ``samples`` training samples
(:mod:`inversa.exo.deep.samples`: injected companions around the detection limit, on
shuffled angles; the simulated cubes, known to be source-free, may keep their true order,
``sim_angles``). Loss and augmentation: :mod:`inversa.exo.deep.training`.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from inversa.exo.deep.model import DeepDetector, save_detector
from inversa.exo.deep.training import (
    DeepTrainSpec,
    build_samples,
    cached_samples,
    features_key,
    train_detector,
)
from inversa.exo.paco import PacoConfig
from inversa.exo.simulate import SimConfig, simulate
from inversa.train.loop import TrainConfig, training_record, write_card


@dataclass(frozen=True)
class ExoTrainSpec:
    out: Path
    cubes: int = 24
    seed0: int = 10000
    size: int = 128
    subframes: int = 8
    deep: DeepTrainSpec = field(default_factory=lambda: DeepTrainSpec(
        samples=4, train=TrainConfig(steps=1500, lr=2e-3, lr_min=1e-5, ckpt_every=50,
                                     log_every=25, validate_every=10**9)))
    workdir: Path | None = None
    # angle order of the simulated cubes' samples (they are source-free); user cubes are
    # always shuffled (an unknown real source must not be learned as background)
    sim_angles: str = "shuffled"
    detrend: int = 0     # PacoConfig.detrend of the features (recorded in the weights)
    covariance: str = "linear"  # PacoConfig.covariance of the features (recorded too)
    bound: float = 0.0   # DeepDetector.bound: limit of the U-Net's correction (0: none)
    extra: tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...] = ()


def random_conditions(i: int, seed0: int, size: int, subframes: int) -> SimConfig:
    g = torch.Generator().manual_seed(seed0 + 7919 * i)
    u = torch.rand(6, generator=g, dtype=torch.float64).tolist()
    return SimConfig(frames=(32, 48, 64)[int(3 * u[0]) % 3], size=size,
                     rotation=20 + 40 * u[1], star_flux=math.exp(math.log(1e6) + u[2]
                                                                 * math.log(10)),
                     ao_rms=0.18 + 0.14 * u[3], static_rms=0.06 + 0.08 * u[4],
                     drift_rms=0.06 + 0.12 * u[5], subframes=subframes)


def simulated_cubes(spec: ExoTrainSpec, progress=None
                    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    out = []
    for i in range(spec.cubes):
        sim = simulate(random_conditions(i, spec.seed0, spec.size, spec.subframes),
                       seed=spec.seed0 + i)
        out.append((sim.cube, sim.angles, sim.psf))
        if progress:
            progress(i + 1, spec.cubes)
    return out


def train_exo(spec: ExoTrainSpec, command: str = "", progress=None) -> dict:
    """Simulate, make samples, train; write ``out`` (.pt) and its card (.json)."""
    out = Path(spec.out)
    work = Path(spec.workdir) if spec.workdir else out.with_suffix(".work")
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(spec.deep.train.seed)
    paco = PacoConfig(calibrate=False, detrend=spec.detrend, covariance=spec.covariance)

    def phase(label: str):
        """``progress`` for one phase: the bar restarts its count, named (a caller's
        two-argument callback gets the counts only)."""
        if progress is None:
            return None
        if len(inspect.signature(progress).parameters) < 3:
            return progress
        return lambda done, total: progress(done, total, label)

    def make():
        sims = simulated_cubes(spec, phase("simulating cubes"))
        parts = [build_samples(sims, spec.deep.samples, gen,
                               replace(spec.deep.sample, angles=spec.sim_angles), paco,
                               phase("samples from simulated cubes"))]
        if spec.extra:
            parts.append(build_samples(list(spec.extra), spec.deep.samples, gen,
                                       replace(spec.deep.sample, angles="shuffled"), paco,
                                       phase("samples from your cubes")))
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    x, y = cached_samples(work, make, key=features_key(paco))
    t1 = time.perf_counter()
    torch.manual_seed(spec.deep.train.seed)
    model = DeepDetector(channels=1, detrend=spec.detrend, covariance=spec.covariance,
                         bound=spec.bound)
    res = train_detector(model, x, y, spec.deep, work, show_progress=progress is None,
                         on_step=phase("training steps"))
    save_detector(model, out)
    card = {
        "model": "exo_deep: U-Net (inversa.nets.unet) on PACO's per-frame whitened evidence "
                 "(inversa.exo.deep.features), Dice + weighted BCE",
        "data": {"simulated_cubes": spec.cubes, "seeds": f"{spec.seed0}..{spec.seed0 + spec.cubes - 1}",
                 "conditions": "inversa.train.exo.random_conditions", "size": spec.size,
                 "subframes": spec.subframes, "user_cubes": len(spec.extra),
                 "samples": len(x), "sample_config": str(spec.deep.sample),
                 "simulated_angles": spec.sim_angles, "detrend": spec.detrend,
                 "bound": spec.bound,
                 "covariance": spec.covariance},
        "training": training_record(spec.deep.train, res, command),
        "samples_minutes": round((t1 - t0) / 60, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    write_card(out, card)
    return card


def with_steps(spec: ExoTrainSpec, steps: int, lr: float) -> ExoTrainSpec:
    return replace(spec, deep=replace(spec.deep, train=replace(spec.deep.train, steps=steps,
                                                               lr=lr)))
