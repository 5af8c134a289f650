"""``inversa exo``: simulate, inject, detect and evaluate on ADI observations."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError

app = typer.Typer(help="Exoplanet detection in angular differential imaging (ADI).",
                  no_args_is_help=True)


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator:
    """A rich progress bar on stderr; yields a ``progress(done, total, label=None)``
    callback (a new ``label`` names the phase the counts now belong to)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=None)
    with bar:
        def update(done: int, total: int, label: str | None = None) -> None:
            if label is not None:
                bar.update(task, description=label)
            bar.update(task, completed=done, total=total)

        yield update


def parse_range(text: str, name: str) -> tuple[float, float]:
    """``"1e-5..2e-4"`` or a single value."""
    try:
        parts = [float(v) for v in text.split("..")]
    except ValueError:
        raise InputError(f"expected LOW..HIGH or a number, got {text!r}", field=name) from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 0 < parts[0] <= parts[1]:
        raise InputError(f"expected 0 < LOW <= HIGH, got {text!r}", field=name)
    return parts[0], parts[1]


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got {text!r}", field=name) \
            from None
    if not vals:
        raise InputError("expected at least one value", field=name)
    return vals


def truth_record(companions, shape, extra: dict) -> dict:
    rows = []
    for i, c in enumerate(companions):
        x, y = c.xy(shape)
        rows.append({"id": i + 1, "x": x, "y": y, "separation": c.sep,
                     "position_angle": c.pa, "contrast": c.flux})
    return {"companions": rows, **extra,
            "conventions": "derotated frame; x column, y row; star at (ny//2, nx//2); "
                           "position angle counter-clockwise from +x; contrast = flux in "
                           "units of psf.fits"}


@app.command("simulate")
@handle_errors
def simulate_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (created, or empty)"),
    frames: int = typer.Option(48, help="Number of frames T"),
    size: int = typer.Option(128, help="Frame side, pixels"),
    rotation: float = typer.Option(40.0, help="Total field rotation, degrees"),
    planets: int = typer.Option(3, help="Number of companions"),
    contrast: str = typer.Option("1e-5..2e-4", help="Contrast range LOW..HIGH (log-uniform)"),
    seed: int = typer.Option(0, help="Random seed (same seed, same data)"),
    star_flux: float = typer.Option(3e6, help="Star photons per frame (unocculted)"),
    subframes: int = typer.Option(16, help="AO-residual realisations averaged per frame"),
    realisation: int | None = typer.Option(
        None, help="Another realisation of --seed's observation: the same aberrations, new "
        "AO residuals and noise (e.g. to measure what a detector does on the same speckles)"),
) -> None:
    """Simulate an ADI sequence (FFT optics, coronagraph, drifting aberrations, AO
    residuals, photon + read noise, field rotation) with companions.

    Writes cube.fits (T, H, W photons), angles.fits (degrees), psf.fits (unocculted star,
    same exposure) and truth.json (companion positions and contrasts), all or nothing.

    Example: inversa exo simulate -o sim --frames 64 --size 128 --rotation 40 --planets 3
    --contrast 1e-5..2e-4 --seed 0
    """
    import torch
    from astropy.io import fits

    from inversa.atomic import Staged, check_new_folder
    from inversa.exo.io import fits_writer
    from inversa.exo.simulate import SimConfig, random_companions, simulate

    check_new_folder(out)
    lo, hi = parse_range(contrast, "--contrast")
    if planets < 0:
        raise InputError("must be >= 0", field="--planets")
    cfg = SimConfig(frames=frames, size=size, rotation=rotation, star_flux=star_flux,
                    subframes=subframes)
    fwhm = 1.03 * cfg.telescope.oversampling
    comps = random_companions(planets, (lo, hi), size, fwhm, seed=seed + 1)
    with progress_bar("simulating frames") as bar:
        sim = simulate(cfg, comps, seed=seed, progress=bar, realisation=realisation)
    hdr = fits.Header()
    hdr["ORIGIN"] = "inversa exo simulate"
    hdr["SEED"] = seed
    if realisation is not None:
        hdr["REALISAT"] = (realisation, "realisation of SEED's aberrations")
    hdr["ROTATION"] = (rotation, "total field rotation, deg")
    hdr["STARFLUX"] = (star_flux, "star photons per frame, unocculted")
    truth = truth_record(sim.companions, (size, size),
                         {"seed": seed, "realisation": realisation, "frames": frames,
                          "size": size, "rotation": rotation, "fwhm_pixels": sim.fwhm})

    def fill(tmp: Path) -> None:
        fits_writer(sim.cube, hdr, BUNIT="photons")(tmp / "cube.fits")
        fits_writer(sim.angles.to(torch.float64).numpy(), None, BUNIT="deg")(tmp / "angles.fits")
        fits_writer(sim.psf, hdr, BUNIT="photons")(tmp / "psf.fits")
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2))

    with Staged() as st:
        st.stage_folder(out, fill)
        st.commit()
    print(f"wrote {out}/cube.fits, angles.fits, psf.fits, truth.json "
          f"({len(sim.companions)} companions, FWHM {sim.fwhm:.2f} px)")


@app.command("inject")
@handle_errors
def inject_cmd(
    cube: Path = typer.Argument(..., help="ADI cube (FITS), or a multi-extension FITS"),
    out: Path = typer.Option(..., "-o", "--out", help="Output cube (.fits)"),
    angles: Path | None = typer.Option(None, help="Parallactic angles (FITS, .npy, text)"),
    psf: Path | None = typer.Option(None, help="Off-axis PSF stamp (FITS)"),
    psf_scale: float = typer.Option(1.0, help="Factor bringing the PSF to the cube's units"),
    companion: list[str] = typer.Option([], "--companion",
                                        help="SEP,PA,FLUX (pixels, degrees, PSF units); "
                                             "repeatable"),
    random: int = typer.Option(0, help="Also inject this many random companions"),
    contrast: str = typer.Option("1e-5..2e-4", help="Flux range of the random ones"),
    seed: int = typer.Option(0, help="Random seed"),
) -> None:
    """Add synthetic companions (the PSF stamp moved along their trajectories) to a cube.

    Writes OUT (the cube, header kept) and OUT_STEM.truth.json, all or nothing.

    Example: inversa exo inject cube.fits --angles angles.fits --psf psf.fits
    --companion 20,45,5e-5 -o injected.fits
    """
    from inversa.atomic import Staged, check_parent
    from inversa.exo.inject import Companion, inject
    from inversa.exo.io import fits_writer, read_observation
    from inversa.exo.psf import fwhm as psf_fwhm
    from inversa.exo.simulate import random_companions

    if out.suffix.lower() not in (".fits", ".fit"):
        raise InputError("the output must be a .fits file", source=str(out))
    check_parent(out)
    obs = read_observation(cube, angles, psf, psf_scale)
    comps = []
    for text in companion:
        vals = parse_floats(text, "--companion")
        if len(vals) != 3 or vals[0] <= 0:
            raise InputError(f"expected SEP,PA,FLUX with SEP > 0, got {text!r}",
                             field="--companion")
        comps.append(Companion(*vals))
    shape = tuple(obs.cube.shape[-2:])
    if random:
        lo, hi = parse_range(contrast, "--contrast")
        f = psf_fwhm(obs.psf if obs.psf.dim() == 2 else obs.psf.mean(0))
        comps += random_companions(random, (lo, hi), min(shape), f, seed=seed)
    if not comps:
        raise InputError("nothing to inject: give --companion or --random", field="--companion")
    for c in comps:
        if c.sep >= min(shape) / 2:
            raise InputError(f"separation {c.sep} is outside the frame", field="--companion")
    cube_out = inject(obs.cube, obs.angles, obs.psf, comps)
    truth = truth_record(comps, shape, {"input": str(cube)})
    with Staged() as st:
        st.stage(out, fits_writer(cube_out, obs.header, INJECTED=len(comps)))
        st.stage(out.with_name(out.stem + ".truth.json"),
                 lambda p: p.write_text(json.dumps(truth, indent=2)))
        st.commit()
    print(f"wrote {out} ({len(comps)} companions) and {out.stem}.truth.json")


def _check_detrend(degree: int) -> None:
    if not 0 <= degree <= 3:
        raise InputError("must be 0 (off), 1, 2 or 3", field="--detrend")


def _detect_config(method: str, threshold: float, ncomp: int, annular: bool, robust: bool,
                   drop_bad_frames: bool, chunk: int, detrend: int = 0,
                   covariance: str = "linear"):
    from inversa.exo.detect import DetectConfig
    from inversa.exo.paco import PacoConfig

    if ncomp < 1:
        raise InputError("must be >= 1", field="--ncomp")
    if chunk < 16:
        raise InputError("must be >= 16", field="--chunk")
    _check_detrend(detrend)
    if detrend and method != "paco":
        raise InputError("only with --method paco", field="--detrend")
    if covariance != "linear" and method != "paco":
        raise InputError("only with --method paco", field="--covariance")
    return DetectConfig(method=method, threshold=threshold, ncomp=ncomp, annular=annular,
                        paco=PacoConfig(robust=robust, chunk=chunk, detrend=detrend,
                                        covariance=covariance),
                        drop_bad_frames=drop_bad_frames)


def _with_deep(cfg, model: str | None, samples: int, steps: int, workdir: Path | None,
               seed: int, flux_model: str | None = "exo_flux"):
    """``cfg`` with the deep detector's settings (checked); ``flux_model`` '' or None:
    PACO's unbiased flux for the candidates."""
    from dataclasses import replace

    from inversa.exo.deep.detect import DeepConfig
    from inversa.exo.deep.model import load_detector
    from inversa.exo.deep.training import DeepTrainSpec

    if samples < 4:
        raise InputError("must be >= 4", field="--train-samples")
    if steps < 1:
        raise InputError("must be >= 1", field="--train-steps")
    if model is not None:
        if cfg.method != "deep":
            raise InputError("only with --method deep", field="--model")
        load_detector(model)  # a missing or corrupted file fails now, before any work
    from inversa.exo.deep.flux import DEFAULT_FLUX_MODEL, load_flux_head

    if flux_model and flux_model != DEFAULT_FLUX_MODEL:
        if cfg.method != "deep":
            raise InputError("only with --method deep", field="--flux-model")
        load_flux_head(flux_model)  # a missing or corrupted file fails now
    spec = DeepTrainSpec(samples=samples)
    spec = replace(spec, train=replace(spec.train, steps=steps, seed=seed))
    deep = DeepConfig(model=model, train=spec, seed=seed,
                      workdir=str(workdir) if workdir else None,
                      flux_model=flux_model or None)
    return replace(cfg, deep=deep)


@app.command("detect")
@handle_errors
def detect_cmd(
    cube: Path = typer.Argument(..., help="ADI cube (FITS, (T,H,W) or (L,T,H,W)), or a "
                                          "multi-extension FITS with ANGLES and PSF"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (created, or empty)"),
    angles: Path | None = typer.Option(None, help="Parallactic angles (FITS, .npy, text)"),
    psf: Path | None = typer.Option(None, help="Off-axis PSF stamp (FITS)"),
    psf_scale: float = typer.Option(1.0, help="Factor bringing the PSF to the cube's units"),
    method: str = typer.Option("paco", help="paco | pca | cadi | deep"),
    threshold: float = typer.Option(5.0, help="Detection threshold (S/N)"),
    ncomp: int = typer.Option(5, help="PCA: number of components"),
    annular: bool = typer.Option(False, help="PCA: annular instead of full frame"),
    robust: bool = typer.Option(False, help="PACO: down-weight frames that do not fit"),
    drop_bad_frames: bool = typer.Option(False, help="Remove frames of poor quality"),
    chunk: int = typer.Option(1024, help="PACO: pixels per chunk (memory)"),
    detrend: int = typer.Option(0, help="PACO: remove each pixel's polynomial trend in time "
                                        "of this degree (drifting speckles; 1 is the one "
                                        "measured) where trajectories span 3 FWHM or more"),
    covariance: str = typer.Option("linear", help="PACO: linear (the paper's shrinkage), "
                                                  "nonlinear (Ledoit-Wolf 2020, per "
                                                  "eigenvalue) or blend (their mean)"),
    model: str | None = typer.Option(None, help="deep: a shipped model name (exo_deep) or a "
                                                ".pt file; default: train on this cube"),
    train_samples: int = typer.Option(40, help="deep: injected training samples"),
    train_steps: int = typer.Option(400, help="deep: training steps"),
    workdir: Path | None = typer.Option(None, help="deep: keep training samples and "
                                                   "checkpoint here (resumable)"),
    seed: int = typer.Option(0, help="deep: random seed"),
    flux_model: str = typer.Option("exo_flux", help="deep: the flux network giving the "
                                   "candidates' flux and error bar (a shipped name or a "
                                   ".pt file; '' for PACO's unbiased estimate)"),
) -> None:
    """Detect companions: S/N map, flux and error maps, catalogue, figure, report.

    Writes snr.fits, flux.fits and flux_err.fits (PACO, deep), pfa.fits (deep: per-pixel
    false-alarm probability), candidates.ecsv, detection.png and report.json into OUT,
    all or nothing. Flux is in units of the PSF stamp: the contrast when the stamp is the
    unocculted star at the same exposure. The deep detector's S/N is an S/N-equivalent:
    a threshold of 5 has the false-alarm probability of 5 sigma.

    Example: inversa exo detect sim/cube.fits --angles sim/angles.fits --psf sim/psf.fits
    -o det
    """
    from inversa.atomic import check_new_folder
    from inversa.exo.detect import detect, write_outputs
    from inversa.exo.io import read_observation

    cfg = _detect_config(method, threshold, ncomp, annular, robust, drop_bad_frames, chunk,
                         detrend, covariance)
    cfg = _with_deep(cfg, model, train_samples, train_steps, workdir, seed, flux_model)
    check_new_folder(out)
    obs = read_observation(cube, angles, psf, psf_scale)
    with progress_bar(f"{method} detection") as bar:
        det = detect(obs, cfg, bar)
    write_outputs(det, obs, out)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{method.upper()}: {len(det.candidates)} candidate(s) at S/N >= "
                    f"{threshold:g} ({det.seconds['total']:.1f} s)")
    for col in ("id", "x", "y", "sep (px)", "PA (deg)", "S/N", "flux", "flux err"):
        t.add_column(col)
    for c in det.candidates:
        t.add_row(str(c.id), f"{c.x:.1f}", f"{c.y:.1f}", f"{c.separation:.1f}",
                  f"{c.position_angle:.1f}", f"{c.snr:.1f}", f"{c.flux:.3g}",
                  f"{c.flux_err:.2g}")
    Console().print(t)
    for note in det.notes:
        print(f"note: {note}")
    print(f"wrote {out}/")


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    cube: Path = typer.Argument(..., help="ADI cube (FITS) or multi-extension FITS"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (created, or empty)"),
    angles: Path | None = typer.Option(None, help="Parallactic angles (FITS, .npy, text)"),
    psf: Path | None = typer.Option(None, help="Off-axis PSF stamp (FITS)"),
    psf_scale: float = typer.Option(1.0, help="Factor bringing the PSF to the cube's units"),
    method: str = typer.Option("paco", help="paco | pca | cadi"),
    threshold: float = typer.Option(5.0, help="Detection threshold (S/N)"),
    ncomp: int = typer.Option(5, help="PCA: number of components"),
    annular: bool = typer.Option(False, help="PCA: annular"),
    contrasts: str = typer.Option("1e-5,2e-5,5e-5,1e-4,2e-4",
                                  help="Injected fluxes (PSF units), comma-separated"),
    separations: str | None = typer.Option(None, help="Separations (pixels); default 5 "
                                                      "from 3 FWHM outwards"),
    repeats: int = typer.Option(2, help="Injected cubes per contrast"),
    pseudo: str = typer.Option("reverse", help="reverse | shuffle: pseudo angles"),
    seed: int = typer.Option(0, help="Random seed"),
) -> None:
    """Injection campaign: ROC curves and AUC, contrast curves, S/N distribution without
    sources against N(0, 1).

    Companions are injected with the angles reversed (or shuffled), so that real sources
    do not add up. Writes summary.json, injections.ecsv, roc.ecsv, contrast.ecsv, roc.png,
    contrast.png and snr_hist.png into OUT, all or nothing.

    Example: inversa exo evaluate sim/cube.fits --angles sim/angles.fits --psf
    sim/psf.fits -o eval
    """
    from inversa.atomic import Staged, check_new_folder
    from inversa.exo.evaluate import (
        CampaignConfig,
        campaign,
        campaign_tables,
        plot_campaign,
        summary,
    )
    from inversa.exo.io import read_observation

    cfg = _detect_config(method, threshold, ncomp, annular, False, False, 1024)
    if repeats < 1:
        raise InputError("must be >= 1", field="--repeats")
    cc = CampaignConfig(contrasts=parse_floats(contrasts, "--contrasts"),
                        separations=parse_floats(separations, "--separations")
                        if separations else None, repeats=repeats, pseudo=pseudo, seed=seed)
    check_new_folder(out)
    obs = read_observation(cube, angles, psf, psf_scale)
    with progress_bar(f"{method} injection campaign") as bar:
        res = campaign(obs, cfg, cc, bar)
    summ = summary(res)

    def fill(tmp: Path) -> None:
        for name, table in campaign_tables(res).items():
            table.write(tmp / f"{name}.ecsv", format="ascii.ecsv")
        plot_campaign(res, tmp, method.upper())
        (tmp / "summary.json").write_text(json.dumps(summ, indent=2))

    with Staged() as st:
        st.stage_folder(out, fill)
        st.commit()
    print(json.dumps(summ, indent=2))
    print(f"wrote {out}/")


@app.command("train")
@handle_errors
def train_cmd(
    out: Path = typer.Option(Path("exo_deep.pt"), "-o", "--out",
                             help="Weights file (.pt); the model card goes beside it (.json)"),
    cubes: int = typer.Option(24, help="Simulated cubes to train on"),
    samples: int = typer.Option(4, help="Injected training samples per cube"),
    steps: int = typer.Option(1500, help="Optimisation steps"),
    lr: float = typer.Option(2e-3, help="Initial learning rate (cosine decay)"),
    size: int = typer.Option(128, help="Frame side of the simulated cubes"),
    seed: int = typer.Option(0, help="Random seed (training)"),
    seed0: int = typer.Option(10000, help="Seed of the first simulated cube"),
    observation: list[Path] = typer.Option([], "--observation",
                                           help="Also train on this observation (multi-"
                                                "extension FITS with ANGLES and PSF; repeat)"),
    workdir: Path | None = typer.Option(None, help="Samples and checkpoint (default: "
                                                   "OUT.work); a rerun resumes from them"),
    sim_angles: str = typer.Option("shuffled", help="Angle order of the simulated cubes' "
                                   "samples: shuffled, true or mixed (your observations are "
                                   "always shuffled)"),
    detrend: int = typer.Option(0, help="Features from PACO statistics with each pixel's "
                                        "trend in time of this degree removed (see "
                                        "`exo detect --detrend`); kept in the weights"),
    covariance: str = typer.Option("linear", help="Features from PACO statistics with this "
                                   "covariance estimate (see `exo detect --covariance`); "
                                   "kept in the weights"),
    bound: float = typer.Option(0.0, help="Limit the network's correction of PACO's score "
                                          "to +-BOUND (tanh; 0: none); kept in the weights"),
) -> None:
    """Train the generic deep detector on simulated cubes (and your observations): the
    model `inversa exo detect --method deep --model NAME` uses directly, and that
    per-observation training starts from.

    Example: inversa exo train -o src/inversa/weights/exo_deep.pt --cubes 24 --steps 1500
    """
    import shlex
    import sys
    from dataclasses import replace

    from inversa.exo.io import read_observation
    from inversa.train.exo import ExoTrainSpec, train_exo, with_steps

    if out.suffix != ".pt":
        raise InputError("expected a .pt file name", field="--out")
    if cubes < 0 or (cubes == 0 and not observation):
        raise InputError("must be >= 1 (or give --observation)", field="--cubes")
    if samples < 1:
        raise InputError("must be >= 1", field="--samples")
    if steps < 1:
        raise InputError("must be >= 1", field="--steps")
    from inversa.exo.deep.samples import ANGLE_MODES

    if sim_angles not in ANGLE_MODES:
        raise InputError(f"must be one of {', '.join(ANGLE_MODES)}", field="--sim-angles")
    _check_detrend(detrend)
    if not bound >= 0:
        raise InputError("must be >= 0", field="--bound")
    from inversa.exo.paco import PacoConfig

    PacoConfig(covariance=covariance)  # refuses an unknown estimate (--covariance)
    extra = []
    for p in observation:
        obs = read_observation(p, None, None, 1.0)
        if obs.cube.dim() != 3:
            raise InputError("the generic model is for plain ADI cubes (T, H, W)",
                             source=str(p))
        extra.append((obs.cube, obs.angles, obs.psf))
    spec = ExoTrainSpec(out=out, cubes=cubes, seed0=seed0, size=size, workdir=workdir,
                        extra=tuple(extra), sim_angles=sim_angles, detrend=detrend,
                        covariance=covariance, bound=bound)
    spec = with_steps(spec, steps, lr)
    spec = replace(spec, deep=replace(spec.deep, samples=samples,
                                      train=replace(spec.deep.train, seed=seed)))
    with progress_bar("simulating cubes") as bar:
        card = train_exo(spec, command="inversa " + " ".join(map(shlex.quote, sys.argv[1:])),
                         progress=bar)
    typer.echo(f"trained {card['training']['steps_done']} steps on {card['data']['samples']} "
               f"samples; wrote {out} and {out.with_suffix('.json')}")


@app.command("train-flux")
@handle_errors
def train_flux_cmd(
    out: Path = typer.Option(Path("exo_flux.pt"), "-o", "--out",
                             help="Weights file (.pt); the model card goes beside it (.json)"),
    cubes: int = typer.Option(80, help="Simulated cubes with injected companions"),
    seed0: int = typer.Option(20000, help="Seed of the first simulated cube"),
    companions: int = typer.Option(8, help="Companions injected per cube"),
    steps: int = typer.Option(1000, help="Optimisation steps (full batch)"),
    min_snr: float = typer.Option(4.0, help="Companions measured down to this PACO S/N"),
    seed: int = typer.Option(0, help="Random seed (fit)"),
    workdir: Path | None = typer.Option(None, help="One file of measured companions per "
                                                   "cube (default: OUT.work); a rerun "
                                                   "resumes from them"),
) -> None:
    """Train the deep detector's flux network: a correction of PACO's unbiased flux and of
    its error bar for detected sources, fitted on companions injected into simulated cubes,
    its bars scaled to cover the truth 68 % of the time on a quarter of them held apart.

    Example (the shipped network): inversa exo train-flux -o src/inversa/weights/exo_flux.pt
    --cubes 100 --min-snr 3
    """
    import shlex
    import sys

    from inversa.train.exo_flux import FluxTrainSpec, train_flux

    if out.suffix != ".pt":
        raise InputError("expected a .pt file name", field="--out")
    if cubes < 4:
        raise InputError("must be >= 4 (a quarter is held apart)", field="--cubes")
    if companions < 1:
        raise InputError("must be >= 1", field="--companions")
    if steps < 1:
        raise InputError("must be >= 1", field="--steps")
    if not min_snr > 0:
        raise InputError("must be > 0", field="--min-snr")
    spec = FluxTrainSpec(out=out, cubes=cubes, seed0=seed0, companions=companions,
                         steps=steps, min_snr=min_snr, seed=seed, workdir=workdir)
    with progress_bar("simulating and measuring") as bar:
        try:
            card = train_flux(spec, "inversa " + " ".join(map(shlex.quote, sys.argv[1:])), bar)
        except InputError:
            raise  # already names its source (e.g. the work folder)
        except ValueError as e:  # too few measured companions
            raise InputError(str(e), field="--cubes") from None
    sc = card["held_apart_scores"]
    typer.echo(f"fitted on {card['data']['fit']} companions; held apart "
               f"({card['data']['held_apart']}): median flux error PACO "
               f"{sc['paco_unbiased']['median_rel_error']:.1%}, network "
               f"{sc['head']['median_rel_error']:.1%}; wrote {out} and "
               f"{out.with_suffix('.json')}")


@app.command("null-tail")
@handle_errors
def null_tail_cmd(
    out: Path = typer.Option(Path("exo_null_tail.json"), "-o", "--out",
                             help="The fitted maps (.json)"),
    cubes: int = typer.Option(40, help="Companion-free simulated cubes (with --samples: "
                                       "how many the samples came from, for the record)"),
    seed0: int = typer.Option(3000, help="Seed of the first cube (with --samples: for the "
                                         "record)"),
    model: str = typer.Option("exo_deep", help="Deep model to fit too ('' for PACO only)"),
    samples: Path | None = typer.Option(None, help="Fit these saved null S/N values (.npz "
                                                   "with keys 'paco' and the model's "
                                                   "name) instead of simulating; with "
                                                   "--covariance, only its keys and "
                                                   "--model's"),
    exceedances: int = typer.Option(300, help="Pixels above the Pareto threshold"),
    covariance: list[str] | None = typer.Option(None, help="PACO's covariance estimate(s) "
                                                           "to fit (linear -> 'paco', "
                                                           "nonlinear, blend -> "
                                                           "'paco_nonlinear', 'paco_blend'; "
                                                           "default linear); repeatable"),
    merge: bool = typer.Option(False, help="Keep the entries of OUT that this run does "
                                           "not fit"),
) -> None:
    """Measure the calibrated S/N's far tail on companion-free simulated cubes (true
    angles) and fit the map to a Gaussian-equivalent that PACO and the deep detector
    apply (inversa.exo.null_tail).

    Example: inversa exo null-tail -o src/inversa/weights/exo_null_tail.json --cubes 40
    """
    import shlex
    import sys

    import numpy as np

    from inversa.exo.null_tail import (
        SIMULATION,
        collect_null_snr,
        fit_tail,
        load_tails,
        save_tails,
    )
    from inversa.exo.paco import PacoConfig, tail_key

    if out.suffix != ".json":
        raise InputError("expected a .json file name", field="--out")
    # refuses an unknown estimate (--covariance)
    keys = {tail_key(PacoConfig(covariance=c)) for c in covariance or ()}
    kept = load_tails(out) if merge else {}
    if samples is not None:
        if not samples.exists():
            raise InputError("no such file", source=str(samples))
        wanted = keys | ({model} if model else set())
        with np.load(samples) as z:
            values = {k: z[k] for k in z.files if not keys or k in wanted}
        if not values:
            raise InputError(f"holds none of {', '.join(sorted(wanted))}", source=str(samples))
    else:
        covariance = covariance or ["linear"]
        if cubes < 1:
            raise InputError("must be >= 1", field="--cubes")
        with progress_bar("simulating and detecting") as bar:
            values = collect_null_snr(cubes, seed0, model or None, progress=bar,
                                      covariances=tuple(dict.fromkeys(covariance)))
    command = "inversa " + " ".join(map(shlex.quote, sys.argv[1:]))
    tails = {}
    for key, v in values.items():
        meta = {"data": SIMULATION, "cubes": cubes, "seeds": f"{seed0}..{seed0 + cubes - 1}",
                "pixels": int(np.isfinite(v).sum()), "command": command,
                "input": "calibrated S/N with null_tail off, pixels beyond 2 FWHM"}
        tails[key] = fit_tail(v, exceedances, meta=meta)
        t = tails[key]
        typer.echo(f"{key}: {meta['pixels']} pixels, u = {t.knots[-1]:.2f} "
                   f"(Gaussian-equivalent {t.values[-1]:.2f}), xi = {t.xi:.3f}, "
                   f"sigma = {t.sigma:.3f}")
    save_tails({**{k: t for k, t in kept.items() if k not in tails}, **tails}, out)
    typer.echo(f"wrote {out}")
