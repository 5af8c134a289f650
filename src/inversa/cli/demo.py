"""``inversa demo``: the main jobs end to end on built-in data."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from inversa.cli.common import handle_errors


@handle_errors
def demo_cmd(
    out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="Output folder"),
    size: int = typer.Option(256, help="Crop size of the test image"),
) -> None:
    """Restore a held-out test image (denoising, deblurring), run the spike example, and
    synthesise and reconstruct a raw burst.

    Example: inversa demo -o out/demo
    """
    import torch
    from rich.console import Console
    from rich.table import Table

    from inversa.data.images import bundled
    from inversa.metrics import psnr
    from inversa.operators import Conv2d, gaussian_kernel
    from inversa.restore.examples import plot_spikes, taylor1979
    from inversa.restore.image import RestoreConfig, restore
    from inversa.restore.imageio import write_image

    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    clean = bundled("astronaut")[..., :size, 128:128 + size]
    g = torch.Generator().manual_seed(0)
    table = Table(title="inversa demo: astronaut crop (held out of training)")
    for col in ("task", "method", "PSNR (dB)", "seconds", "output"):
        table.add_column(col)

    panels: list[tuple[str, torch.Tensor]] = [("clean (astronaut crop)", clean)]
    sigma = 25 / 255
    noisy = clean + sigma * torch.randn(clean.shape, generator=g)
    panels.append((f"noisy σ=25/255 ({psnr(noisy, clean):.2f} dB)", noisy))
    write_image(out / "clean.png", clean, bits=8)
    write_image(out / "noisy_s25.png", noisy, bits=8)
    table.add_row("denoise s=25/255", "noisy input", f"{psnr(noisy, clean):.2f}", "", "")
    for prior in ("tv", "wavelet", "pnp"):
        t0 = time.time()
        r = restore(noisy, RestoreConfig(prior=prior))  # blind: sigma estimated
        dt = time.time() - t0
        f = out / f"denoise_{prior}.png"
        write_image(f, r.x, bits=8)
        table.add_row("denoise s=25/255", f"{prior} (blind)", f"{psnr(r.x, clean):.2f}",
                      f"{dt:.2f}", f.name)
        if prior != "wavelet":
            panels.append((f"denoised, {prior} ({psnr(r.x, clean):.2f} dB)", r.x))

    k = gaussian_kernel(1.6)
    blurred = Conv2d(k, clean.shape[1:], boundary="reflect")(clean)
    blurred = blurred + 0.01 * torch.randn(clean.shape, generator=g)
    write_image(out / "blurred.png", blurred, bits=8)
    panels.append((f"blurred g1.6 + 0.01 ({psnr(blurred, clean):.2f} dB)", blurred))
    table.add_row("deblur g1.6 + 0.01", "blurred input", f"{psnr(blurred, clean):.2f}", "", "")
    for prior in ("tv", "pnp"):
        t0 = time.time()
        r = restore(blurred, RestoreConfig(prior=prior, noise_sigma=0.01, kernel=k))
        dt = time.time() - t0
        f = out / f"deblur_{prior}.png"
        write_image(f, r.x, bits=8)
        table.add_row("deblur g1.6 + 0.01", prior, f"{psnr(r.x, clean):.2f}", f"{dt:.2f}", f.name)
        panels.append((f"deblurred, {prior} ({psnr(r.x, clean):.2f} dB)", r.x))
    montage(panels, out / "restore.png")

    t0 = time.time()
    exp = taylor1979()
    plot_spikes(exp, out / "spikes.png")
    err = float((exp.est_fine - exp.truth).norm() / exp.truth.norm())
    table.add_row("spikes 4 ms -> 2 ms", "l1 / FISTA", f"rel. err {err:.3f}",
                  f"{time.time() - t0:.2f}", "spikes.png")
    burst_step(out, table)
    hdr_step(out, table)
    exo_step(out, table)
    console.print(table)
    console.print(f"outputs in {out}/ (overview figures: restore.png, spikes.png, burst.png, "
                  "hdr.png, exo/detection.png, exo_deep/detection.png)")


def exo_step(out: Path, table) -> None:
    """Simulate a short ADI sequence with three companions and detect them with PACO
    (exo/: S/N, flux and error maps, candidates.ecsv, detection.png, report.json)."""
    import json
    import math
    import shutil

    from inversa.exo.detect import DetectConfig, detect, write_outputs
    from inversa.exo.inject import Companion
    from inversa.exo.io import Observation
    from inversa.exo.simulate import SimConfig, simulate

    t0 = time.time()
    comps = [Companion(16.0, 40.0, 1e-4), Companion(24.0, 160.0, 5e-5),
             Companion(30.0, 290.0, 3e-5)]
    sim = simulate(SimConfig(frames=32, size=80, subframes=4, rotation=50.0), comps, seed=0)
    obs = Observation(cube=sim.cube, angles=sim.angles, psf=sim.psf, source="demo simulation")
    det = detect(obs, DetectConfig(method="paco"))
    folder = out / "exo"
    if folder.exists():
        shutil.rmtree(folder)
    truth = [{"separation": c.sep, "position_angle": c.pa, "contrast": c.flux} for c in comps]
    write_outputs(det, obs, folder, extra={"truth": truth})
    found = 0
    for c in comps:
        x, y = c.xy((80, 80))
        if any(math.hypot(d.x - x, d.y - y) < 2 for d in det.candidates):
            found += 1
    table.add_row("ADI 32 x 80 x 80, 3 companions", "PACO",
                  f"{found}/3 found, {len(det.candidates) - found} false",
                  f"{time.time() - t0:.2f}", "exo/detection.png")
    (folder / "truth.json").write_text(json.dumps(truth, indent=2))
    deep_step(obs, comps, truth, out, table)


def deep_step(obs, comps, truth, out: Path, table) -> None:
    """The deep detector on the same sequence, next to PACO (exo_deep/): the shipped
    generic model, calibrated on the sequence's reversed/shuffled-angle copies."""
    import math
    import shutil
    from dataclasses import replace

    from inversa.exo.deep.detect import DeepConfig
    from inversa.exo.deep.model import has_detector
    from inversa.exo.deep.training import DeepTrainSpec
    from inversa.exo.detect import DetectConfig, detect, write_outputs

    t0 = time.time()
    if has_detector():
        deep, how = DeepConfig(model="exo_deep"), "deep (shipped model)"
    else:  # a short per-observation training
        spec = DeepTrainSpec(samples=8)
        deep = DeepConfig(train=replace(spec, train=replace(spec.train, steps=60)))
        how = "deep (trained here)"
    det = detect(obs, DetectConfig(method="deep", deep=deep))
    folder = out / "exo_deep"
    if folder.exists():
        shutil.rmtree(folder)
    write_outputs(det, obs, folder, extra={"truth": truth})
    found = sum(any(math.hypot(d.x - c.xy((80, 80))[0], d.y - c.xy((80, 80))[1]) < 2
                    for d in det.candidates) for c in comps)
    table.add_row("ADI 32 x 80 x 80, 3 companions", how,
                  f"{found}/3 found, {len(det.candidates) - found} false",
                  f"{time.time() - t0:.2f}", "exo_deep/detection.png")


def burst_step(out: Path, table) -> None:
    """Synthesise a raw burst from a held-out photo, render its reference frame, and
    reconstruct it (x2): anchor, merge, MAP and, once its weights ship, the learned
    reconstruction side by side (burst.png)."""
    import torch.nn.functional as F

    from inversa.burst.reconstruct import ReconConfig, default_method, reconstruct
    from inversa.burst.synth import SynthConfig, synthesize_burst
    from inversa.camera.burstio import write_npz
    from inversa.camera.demosaic import demosaic_bilinear
    from inversa.camera.isp import render
    from inversa.camera.noise_estimate import estimate_noise_levels
    from inversa.data.images import bundled
    from inversa.metrics import psnr
    from inversa.restore.imageio import write_image

    t0 = time.time()
    src = bundled("chelsea")[..., 30:286, 100:356]
    sb = synthesize_burst(src, SynthConfig(scale=2, frames=8), seed=0)
    b = sb.burst
    write_npz(b, out / "burst.npz")
    params = b.isp_params()
    ref = render(demosaic_bilinear(b.raw[0], b.cfa), params)[None]
    gt = render(sb.gt, params)[None]
    write_image(out / "burst_reference.png", ref, bits=8)
    write_image(out / "burst_gt.png", gt, bits=8)
    est = estimate_noise_levels(b.raw[0])
    n = b.noise
    table.add_row("synthetic raw burst",
                  f"8 frames x2, shot {n.shot:.2g} (1-frame estimate {est.shot:.2g})",
                  "", f"{time.time() - t0:.2f}", "burst.npz")
    panels = [("reference frame (x2 nearest)", F.interpolate(ref, scale_factor=2))]
    methods = ["anchor", "merge", "map"]
    if default_method(2) == "learned":  # the learned reconstruction, once its weights ship
        methods.append("learned")
    for method in methods:
        t0 = time.time()
        r = reconstruct(b, ReconConfig(method=method, scale=2))  # blind noise estimate
        dt = time.time() - t0
        p = psnr(r.x[..., 8:-8, 8:-8], sb.gt[None][..., 8:-8, 8:-8])
        img = render(r.x[0], params)[None]
        write_image(out / f"burst_{method}.png", img, bits=8)
        table.add_row("burst x2 (linear RGB)", method, f"{p:.2f}", f"{dt:.2f}",
                      f"burst_{method}.png")
        panels.append((f"{method} ({p:.2f} dB linear)", img))
    panels.append(("ground truth", gt))
    montage(panels, out / "burst.png", cols=len(panels))


def hdr_step(out: Path, table) -> None:
    """A bracketed burst (exposures 1, 4, 1/4 repeated) of an HDR scene with two moving
    objects: the naive exposure-weighted merge (ghosts), the HDR MAP with the confidence
    weights and the learned reconstruction (the default where its weights ship), scored
    by mu-law PSNR; the default's radiance as OpenEXR, tone-mapped PNG and the figure of
    brackets, weights and results (hdr.png)."""
    from inversa.burst.hdr import HDRConfig, default_hdr_method, mu_psnr, reconstruct_hdr
    from inversa.burst.hdr_figure import plot_hdr
    from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
    from inversa.camera.burstio import write_npz
    from inversa.camera.hdrio import write_radiance
    from inversa.camera.tonemap import tonemap
    from inversa.data.images import bundled
    from inversa.restore.imageio import write_image

    t0 = time.time()
    cfg = SynthConfig(scale=2, frames=9, exposures=split_exposures("1,4,1/4...", 9),
                      hdr_peak=4.0, lights=1, moving_objects=2)
    sb = synthesize_burst(bundled("coffee"), cfg, seed=100, box=(96, 160, 192, 192))
    write_npz(sb.burst, out / "hdr_burst.npz")
    table.add_row("bracketed HDR burst", "9 frames x1,x4,x1/4, 2 moving objects", "",
                  f"{time.time() - t0:.2f}", "hdr_burst.npz")

    def score(x):
        return mu_psnr(x, sb.gt, border=16)

    best = default_hdr_method(2)
    notes = {"naive": " (no g: ghosts)", "map": " (TV prior, learned g)",
             "learned": " (learned prior and g)"}
    res = {}
    for method in dict.fromkeys(("naive", "map", best)):
        t0 = time.time()
        r = reconstruct_hdr(sb.burst, HDRConfig(method=method, scale=2))  # blind
        res[method] = r
        table.add_row("HDR x2 (mu-law PSNR)", method + notes[method], f"{score(r.x):.2f}",
                      f"{time.time() - t0:.2f}", "hdr.exr, hdr.png" if method == best else "")
    write_radiance(out / "hdr.exr", res[best].x)
    write_image(out / "hdr_tonemapped.png", tonemap(res[best].x, sb.burst.isp_params()), bits=8)
    plot_hdr(sb.burst, res[best], out / "hdr.png", naive=res["naive"].x, gt=sb.gt[None],
             titles={"naive": f"naive merge, no g ({score(res['naive'].x):.1f} dB)",
                     "result": f"{best} with g ({score(res[best].x):.1f} dB)"})


def montage(panels, path: Path, cols: int = 4) -> None:
    """Save a grid of titled images (``(1, C, H, W)`` tensors in [0, 1])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, img) in zip(axes.ravel(), panels):
        a = img[0].clamp(0, 1).permute(1, 2, 0).numpy()
        ax.imshow(a[..., 0] if a.shape[-1] == 1 else a, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
