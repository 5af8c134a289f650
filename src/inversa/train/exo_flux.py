"""Recipe: the deep detector's flux network (``inversa exo train-flux``).

Data: ``cubes`` simulated ADI sequences (seeds ``seed0 + i``; observing conditions drawn
per cube by :func:`inversa.train.exo.random_conditions`), each with ``companions``
companions at contrasts log-uniform in ``contrast``. Every companion whose PACO S/N peak
(within one FWHM of the truth) reaches ``min_snr`` is measured at the parabola-refined
peak, as a detection would be (:func:`inversa.exo.deep.flux.measure`). One file per cube
in the work folder, so an interrupted run resumes where it stopped.

Fit: the last ``holdout`` share of the cubes is kept apart; the head is fitted on the
others (full batch, Adam, weight decay) with :func:`inversa.exo.deep.flux.robust_nll`,
then its error bars are scaled on the held-apart cubes (split conformal) and both
estimators are scored there: median relative flux error and the share of ``|z| <= 1``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from inversa.errors import InputError
from inversa.exo.candidates import located_peak
from inversa.exo.deep.flux import (
    FluxHead,
    FluxMeasure,
    conformal_factor,
    descriptor,
    measure,
    robust_nll,
    save_flux_head,
)
from inversa.exo.inject import Companion
from inversa.exo.paco import PacoConfig, paco_map
from inversa.exo.psf import fwhm as psf_fwhm
from inversa.exo.simulate import Simulation, random_companions, simulate
from inversa.train.exo import random_conditions
from inversa.train.loop import write_card


@dataclass(frozen=True)
class FluxTrainSpec:
    out: Path
    cubes: int = 80
    seed0: int = 20000
    companions: int = 8
    contrast: tuple[float, float] = (4e-6, 4e-4)
    min_snr: float = 4.0
    size: int = 128
    subframes: int = 8
    holdout: float = 0.25
    steps: int = 1000
    lr: float = 3e-3
    weight_decay: float = 1e-2
    hidden: int = 8
    seed: int = 0
    workdir: Path | None = None


def measured_companions(sim: Simulation, min_snr: float
                        ) -> list[tuple[Companion, FluxMeasure, float]]:
    """``(companion, measure, peak S/N)`` of each of ``sim``'s companions whose PACO S/N
    peak (within one FWHM of the truth) reaches ``min_snr``, measured at the
    parabola-refined peak as a detection would be."""
    pm = paco_map(sim.cube, sim.angles, sim.psf)
    f = psf_fwhm(sim.psf)
    shape = tuple(sim.cube.shape[-2:])
    out = []
    for c in sim.companions:
        at = located_peak(pm.snr, *c.xy(shape), f)
        if at is None or not float(pm.snr[at[0]]) >= min_snr:
            continue
        pk, (xr, yr) = at
        m = measure(sim.cube, sim.angles, sim.psf, xr, yr, PacoConfig(),
                    float(pm.scale[round(yr), round(xr)]), f)
        out.append((c, m, float(pm.snr[pk])))
    return out


def cube_rows(i: int, spec: FluxTrainSpec) -> list[dict]:
    """The measured companions of training cube ``i`` (dicts: the measure, the true flux
    and the PACO S/N of the peak)."""
    cfg = random_conditions(i, spec.seed0, spec.size, spec.subframes)
    comps = random_companions(spec.companions, spec.contrast, spec.size, 4.1,
                              seed=spec.seed0 + i + 50000)
    sim = simulate(cfg, comps, seed=spec.seed0 + i)
    return [{**asdict(m), "true": c.flux, "snr": snr, "cube": i}
            for c, m, snr in measured_companions(sim, spec.min_snr)]


def workdir(spec: FluxTrainSpec) -> Path:
    return Path(spec.workdir) if spec.workdir else Path(spec.out).with_suffix(".work")


def read_cube_rows(path: Path) -> tuple[float, list[dict]]:
    """The PACO S/N a work-folder file's companions were measured down to, and its rows
    (files written before the cut was recorded hold a plain list, measured at 4)."""
    blob = torch.load(path, weights_only=False)
    return (4.0, blob) if isinstance(blob, list) else (float(blob["min_snr"]), blob["rows"])


def collect(spec: FluxTrainSpec, progress: Callable[[int, int], None] | None = None
            ) -> tuple[list[dict], int]:
    """Rows of every training cube, each cube cached in the work folder, and how many
    cubes were read back from it."""
    work = workdir(spec)
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    cached = 0
    for i in range(spec.cubes):
        path = work / f"cube_{spec.seed0 + i}.pt"
        if path.exists():
            held, part = read_cube_rows(path)
            if held > spec.min_snr:
                raise InputError(f"holds companions measured at S/N >= {held:g}, this run "
                                 f"needs {spec.min_snr:g}; use another work folder",
                                 source=str(work))
            part = [r for r in part if r["snr"] >= spec.min_snr]
            cached += 1
        else:
            part = cube_rows(i, spec)
            tmp = path.with_suffix(".tmp")
            torch.save({"min_snr": spec.min_snr, "rows": part}, tmp)
            tmp.replace(path)
        rows += part
        if progress:
            progress(i + 1, spec.cubes)
    return rows, cached


def as_measures(rows: list[dict]) -> list[FluxMeasure]:
    names = FluxMeasure.__dataclass_fields__
    return [FluxMeasure(**{k: r[k] for k in names}) for r in rows]


def scores(est: list[tuple[float, float]], truth: np.ndarray,
           ref: np.ndarray | None = None) -> dict:
    """Median relative error, share of ``|z| <= 1``, mean and std of ``z``; with
    ``ref`` (PACO's errors ``sigma_u``) also the Gaussian negative log-likelihood of the
    truth in their units, ``mean(z^2 / 2 + log(sigma / sigma_u))``."""
    f = np.array([e[0] for e in est])
    s = np.array([e[1] for e in est])
    z = (f - truth) / s
    out = {"median_rel_error": float(np.median(np.abs(f - truth) / truth)),
           "coverage_68": float(np.mean(np.abs(z) <= 1)), "z_mean": float(z.mean()),
           "z_std": float(z.std()), "n": len(truth)}
    if ref is not None:
        out["nll"] = float(np.mean(0.5 * z ** 2 + np.log(s / ref)))
    return out


def fit_head(rows: list[dict], spec: FluxTrainSpec) -> FluxHead:
    """Fit the head on ``rows`` (robust NLL in units of sigma_u, full batch)."""
    torch.manual_seed(spec.seed)
    ms = as_measures(rows)
    d = descriptor(ms)
    t = torch.tensor([(r["true"] - m.flux) / m.flux_err for r, m in zip(rows, ms, strict=True)],
                     dtype=torch.float32)
    ok = torch.isfinite(t)
    d, t = d[ok], t[ok]
    head = FluxHead(spec.hidden)
    opt = torch.optim.Adam(head.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    for k in range(spec.steps):
        for g in opt.param_groups:
            g["lr"] = spec.lr * 0.5 * (1 + math.cos(math.pi * k / spec.steps))
        mu, s = head(d)
        loss = robust_nll(mu, s, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def train_flux(spec: FluxTrainSpec, command: str = "",
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Collect, fit, scale the bars, write ``out`` (.pt) and its card (.json)."""
    t0 = time.perf_counter()
    rows, cached = collect(spec, progress)
    t1 = time.perf_counter()
    cut = spec.cubes - max(1, round(spec.holdout * spec.cubes))
    fit_rows = [r for r in rows if r["cube"] < cut]
    cal_rows = [r for r in rows if r["cube"] >= cut]
    if len(fit_rows) < 20 or len(cal_rows) < 10:
        raise ValueError(f"too few measured companions ({len(fit_rows)} to fit, "
                         f"{len(cal_rows)} held apart); use more --cubes")
    head = fit_head(fit_rows, spec)
    ms = as_measures(cal_rows)
    truth = np.array([r["true"] for r in cal_rows])
    plain = [(m.flux, m.flux_err) for m in ms]
    est = head.estimate(ms)
    z = torch.tensor([(e[0] - tr) / e[1] for e, tr in zip(est, truth, strict=True)])
    head.coverage.fill_(conformal_factor(z))
    scaled = head.estimate(ms)
    save_flux_head(head, spec.out)
    card = {
        "model": "exo_flux: MLP on PACO's unbiased-flux descriptor (inversa.exo.deep.flux), "
                 "robust (Huber) Gaussian NLL, split-conformal error scale",
        "data": {"simulated_cubes": spec.cubes,
                 "seeds": f"{spec.seed0}..{spec.seed0 + spec.cubes - 1}",
                 "conditions": "inversa.train.exo.random_conditions",
                 "companions_per_cube": spec.companions, "contrast": list(spec.contrast),
                 "min_snr": spec.min_snr, "measured": len(rows),
                 "fit": len(fit_rows), "held_apart": len(cal_rows),
                 "held_apart_cubes": f"{spec.seed0 + cut}..{spec.seed0 + spec.cubes - 1}"},
        "training": {"steps": spec.steps, "lr": spec.lr, "weight_decay": spec.weight_decay,
                     "hidden": spec.hidden, "seed": spec.seed, "command": command,
                     "collect_minutes": round((t1 - t0) / 60, 1),
                     "cubes_read_from_workdir": cached,
                     "fit_seconds": round(time.perf_counter() - t1, 1),
                     "machine": "x86_64 CPU, 2 threads"},
        "coverage_factor": float(head.coverage),
        "held_apart_scores": {"paco_unbiased": scores(plain, truth),
                              "head_before_scaling": scores(est, truth),
                              "head": scores(scaled, truth)},
        "parameters": sum(p.numel() for p in head.parameters()),
    }
    write_card(Path(spec.out), card)
    return card
