"""One batch item, run on a worker: the same pipeline and files as the single commands,
written atomically into ``OUTDIR/<id>/`` with a ``done.json`` marker (configuration hash
and file sizes) that makes a finished item recognisable and checkable."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

MARKER = "done.json"


def one_line(e: BaseException) -> str:
    """The first line of the error; prefixed by its type unless it is bad input."""
    from inversa.errors import InputError

    lines = str(e).strip().splitlines()
    first = lines[0] if lines else ""
    return first if isinstance(e, InputError) else f"{type(e).__name__}: {first}"


def marker_writer(item_id: str, config_hash: str, seconds: float):
    """Fill-callback adding ``done.json`` (listing every file and its size) last."""

    def more(tmp: Path) -> None:
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / MARKER).write_text(json.dumps({"id": item_id, "config": config_hash,
                                              "files": files, "seconds": seconds}, indent=1))

    return more


def is_complete(folder: Path, config_hash: str) -> bool:
    """``folder`` holds a finished item of this configuration with all its files intact."""
    m = folder / MARKER
    try:
        rec = json.loads(m.read_text())
    except (OSError, ValueError):
        return False
    if rec.get("config") != config_hash:
        return False
    return all((folder / n).is_file() and (folder / n).stat().st_size == size
               for n, size in rec.get("files", {}).items())


def _log_attempt(outdir: Path, item_id: str) -> None:
    with open(outdir / "attempts.log", "a") as f:
        f.write(f"{item_id}\t{socket.gethostname()}\t{os.getpid()}\t{time.time():.3f}\n")


def run_item(kind: str, item, settings: dict, outdir: str, config_hash: str,
             threads: int = 1) -> dict:
    """Process one item; never raises for bad input (the error goes into the status)."""
    import torch

    torch.set_num_threads(max(1, threads))
    out = Path(outdir)
    target = out / item.id
    if is_complete(target, config_hash):  # a rerun of a task whose result was lost
        rec = json.loads((target / MARKER).read_text())
        return {"id": item.id, "status": "done", "seconds": rec.get("seconds", 0.0),
                "error": "", "worker": f"{socket.gethostname()}:{os.getpid()}"}
    _log_attempt(out, item.id)
    t0 = time.perf_counter()
    status, error, extra = "done", "", {}
    try:
        if target.exists():  # a stale result of another configuration
            import shutil

            shutil.rmtree(target)
        if kind == "exo":
            extra = _exo(item, settings, target, config_hash, t0)
        else:
            extra = _burst(item, settings, target, config_hash, t0)
    except (Exception, MemoryError) as e:
        status, error = "failed", one_line(e)
    return {"id": item.id, "status": status, "seconds": time.perf_counter() - t0,
            "error": error, "worker": f"{socket.gethostname()}:{os.getpid()}", **extra}


def _exo(item, settings: dict, target: Path, config_hash: str, t0: float) -> dict:
    from inversa.exo.deep.detect import DeepConfig
    from inversa.exo.detect import DetectConfig, detect, write_outputs
    from inversa.exo.io import read_observation
    from inversa.exo.paco import PacoConfig

    s = {**settings, **item.params}
    model = s.get("model") or None
    cfg = DetectConfig(method=s.get("method", "paco"), threshold=float(s.get("threshold", 5)),
                       ncomp=int(s.get("ncomp", 5)), annular=bool(s.get("annular", False)),
                       paco=PacoConfig(robust=bool(s.get("robust", False))),
                       deep=DeepConfig(model=str(model) if model else None))
    if "cube" not in item.paths:
        from inversa.errors import InputError

        raise InputError("no cube given", field="cube")
    obs = read_observation(item.paths["cube"], item.paths.get("angles"), item.paths.get("psf"),
                           float(s.get("psf_scale", 1.0)))
    det = detect(obs, cfg)
    write_outputs(det, obs, target, extra={"batch_id": item.id},
                  more=marker_writer(item.id, config_hash, time.perf_counter() - t0))
    return {"candidates": len(det.candidates)}


def _burst(item, settings: dict, target: Path, config_hash: str, t0: float) -> dict:
    import numpy as np
    import tifffile

    from inversa.atomic import Staged
    from inversa.burst.reconstruct import ReconConfig, reconstruct
    from inversa.camera.burstio import read_burst
    from inversa.camera.isp import render
    from inversa.restore.imageio import write_image

    s = {**settings, **item.params}
    frames = s.get("frames")
    cfg = ReconConfig(method=str(s.get("method", "map")), scale=int(s.get("scale", 4)),
                      prior=str(s.get("prior", "pnp")),
                      max_frames=int(frames) if frames else None)
    burst = read_burst(item.paths["burst"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = reconstruct(burst, cfg, noise=burst.noise)
    x = res.x
    lin = x[0].permute(1, 2, 0).numpy().astype(np.float32)
    rgb = render(x, burst.isp_params())
    report = {"id": item.id, "input": item.paths["burst"], "method": cfg.method,
              "scale": cfg.scale, "prior": cfg.prior, "frames_used": int(res.used.sum()),
              "warnings": list(res.warnings), "shape": list(lin.shape)}

    def fill(tmp: Path) -> None:
        tifffile.imwrite(tmp / "result.tiff", lin, photometric="rgb")
        write_image(tmp / "preview.png", rgb, bits=8)
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
        marker_writer(item.id, config_hash, time.perf_counter() - t0)(tmp)

    with Staged() as st:
        st.stage_folder(target, fill)
        st.commit()
    return {"frames_used": int(res.used.sum())}
