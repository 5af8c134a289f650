"""A generic, resumable training loop.

``fit`` minimises ``loss_fn(model, batch)`` over batches drawn by ``batch_fn(gen)`` with Adam
and a cosine learning-rate schedule. Every ``ckpt_every`` steps it writes a checkpoint
(model, optimiser, scheduler, random generator, step) atomically; if the checkpoint exists
when ``fit`` starts, training resumes from it bit-for-bit. One JSON line per ``log_every``
steps is appended to ``log_path``. A step whose loss or gradients are not finite is
skipped (counted in the state as ``skipped``). Training stops at ``steps``, after ``max_minutes``, or
when ``validate`` has not improved for ``patience`` validations (early stop); the best
validated weights are kept. A model with a ``param_groups()`` method gives its own Adam
parameter groups, each with an ``lr_scale`` factor. With a time limit, the cosine
schedule follows whichever of ``step / steps`` and ``minutes / max_minutes`` is further
along, so the learning rate is annealed by the time training stops (then the run is not
bit-for-bit reproducible).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 10000
    lr: float = 1e-3
    lr_min: float = 1e-5
    seed: int = 0
    ckpt_every: int = 200
    log_every: int = 50
    validate_every: int = 500
    patience: int = 0  # 0: no early stop
    max_minutes: float = 0.0  # 0: no time limit
    grad_clip: float = 1.0


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def fit(model: torch.nn.Module,
        batch_fn: Callable[[torch.Generator], tuple],
        loss_fn: Callable[[torch.nn.Module, tuple], torch.Tensor],
        config: TrainConfig,
        ckpt_path: Path,
        log_path: Path | None = None,
        validate: Callable[[torch.nn.Module], float] | None = None,
        show_progress: bool = True,
        on_step: Callable[[int, int], None] | None = None) -> dict:
    """Train ``model`` in place; returns ``{"step", "loss", "best_val", "minutes"}``.

    ``validate(model)`` returns a score where higher is better (e.g. PSNR);
    ``on_step(step, steps)`` is called after every step (for a caller's progress bar).
    """
    ckpt_path = Path(ckpt_path)
    # a model may ask for per-group learning-rate factors (e.g. faster scalar parameters)
    groups = model.param_groups() if hasattr(model, "param_groups") else \
        [{"params": list(model.parameters()), "lr_scale": 1.0}]
    opt = torch.optim.Adam(groups, lr=config.lr)

    def lr_at(step: int) -> float:
        t = step / max(config.steps, 1)
        if config.max_minutes > 0:
            t = max(t, state["minutes"] / config.max_minutes)
        t = min(t, 1.0)
        return config.lr_min + 0.5 * (config.lr - config.lr_min) * (1 + math.cos(math.pi * t))

    gen = torch.Generator().manual_seed(config.seed)
    state = {"step": 0, "best_val": -math.inf, "since_best": 0, "minutes": 0.0}
    best_sd = None
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        state = ck["state"]
        best_sd = ck.get("best")
    t0 = time.time() - 60 * state["minutes"]
    running = None
    model.train()
    cols = [TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]:.3g}"), TimeElapsedColumn(),
            TimeRemainingColumn()]
    with Progress(*cols, disable=not show_progress) as prog:
        task = prog.add_task("train", total=config.steps, completed=state["step"], loss=0.0)
        while state["step"] < config.steps:
            step = state["step"]
            for g in opt.param_groups:
                g["lr"] = lr_at(step) * g.get("lr_scale", 1.0)
            batch = batch_fn(gen)
            loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            finite = bool(torch.isfinite(loss)) and all(
                bool(torch.isfinite(p.grad).all()) for p in model.parameters()
                if p.grad is not None)
            if finite:  # a degenerate sample must not turn the weights into NaN
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                opt.step()
                lv = float(loss.detach())
                running = lv if running is None else 0.98 * running + 0.02 * lv
            else:
                state["skipped"] = state.get("skipped", 0) + 1
            state["step"] = step + 1
            state["minutes"] = (time.time() - t0) / 60
            prog.update(task, completed=state["step"], loss=running or 0.0)
            if on_step is not None:
                on_step(state["step"], config.steps)
            stop = config.max_minutes > 0 and state["minutes"] >= config.max_minutes
            if validate is not None and (state["step"] % config.validate_every == 0 or stop
                                         or state["step"] == config.steps):
                model.eval()
                with torch.no_grad():
                    val = float(validate(model))
                model.train()
                if val > state["best_val"]:
                    state["best_val"], state["since_best"] = val, 0
                    best_sd = copy.deepcopy(model.state_dict())
                else:
                    state["since_best"] += 1
                if log_path:
                    with open(log_path, "a") as f:
                        f.write(json.dumps({"step": state["step"], "val": val,
                                            "minutes": round(state["minutes"], 2)}) + "\n")
                if config.patience and state["since_best"] >= config.patience:
                    stop = True
            if log_path and state["step"] % config.log_every == 0:
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": state["step"], "loss": running,
                                        "lr": lr_at(step),
                                        "minutes": round(state["minutes"], 2)}) + "\n")
            if state["step"] % config.ckpt_every == 0 or stop or state["step"] == config.steps:
                _atomic_save({"model": model.state_dict(), "opt": opt.state_dict(),
                              "gen": gen.get_state(), "state": state, "best": best_sd},
                             ckpt_path)
            if stop:
                break
    if best_sd is not None:
        model.load_state_dict(best_sd)
    model.eval()
    return {"step": state["step"], "loss": running, "best_val": state["best_val"],
            "minutes": state["minutes"]}


def fit_to(out: Path, model: torch.nn.Module,
           batch_fn: Callable[[torch.Generator], tuple],
           loss_fn: Callable[[torch.nn.Module, tuple], torch.Tensor],
           config: TrainConfig, validate: Callable[[torch.nn.Module], float] | None,
           save: Callable[[torch.nn.Module, Path], None]) -> tuple[dict, float]:
    """:func:`fit` with the checkpoint and log beside the output stem (``out.ckpt``,
    ``out.log.jsonl``; a run resumes from them), then ``save(model, out.pt)``. Returns
    fit's result and the wall seconds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = fit(model, batch_fn, loss_fn, config, out.with_suffix(".ckpt"),
              out.with_suffix(".log.jsonl"), validate)
    save(model, out.with_suffix(".pt"))
    return res, time.time() - t0


def training_record(config: TrainConfig, result: dict, command: str) -> dict:
    """The ``training`` entry of a model card: settings, what was done, where, how."""
    import platform
    from dataclasses import asdict

    return {**asdict(config), "steps_done": result["step"],
            "minutes": round(result["minutes"], 1),
            "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads",
            "command": command}


def images_record(folder: Path | None, bundled: Sequence[str]) -> str | list[str]:
    """The ``images`` entry of a model card: the user's folder, or the bundled names."""
    return f"user folder {folder}" if folder else list(bundled)


def write_card(out: Path, card: dict) -> None:
    """Write the model card ``out.json`` beside the weights."""
    Path(out).with_suffix(".json").write_text(json.dumps(card, indent=2, default=str) + "\n")
