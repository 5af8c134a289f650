"""``inversa batch``: manifests, per-item outputs, failures, resume, a killed worker,
catalogue and summary, and bad input."""

import json
import os
import signal

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from inversa.batch.manifest import read_manifest
from inversa.batch.runner import BatchConfig, run_batch
from inversa.cli.main import app
from inversa.errors import InputError
from inversa.exo.inject import Companion
from inversa.exo.simulate import SimConfig, simulate

runner = CliRunner()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Six small observations (three files each) and a manifest; one row is broken."""
    d = tmp_path_factory.mktemp("archive")
    rows = ["id,cube,angles,psf"]
    for i in range(6):
        sim = simulate(SimConfig(frames=12, size=48, subframes=1, rotation=60.0),
                       [Companion(14.0, 60.0 * i, 3e-4)], seed=i)
        fits.PrimaryHDU(sim.cube.numpy()).writeto(d / f"c{i}.fits")
        fits.PrimaryHDU(sim.angles.numpy()).writeto(d / f"a{i}.fits")
        fits.PrimaryHDU(sim.psf.numpy()).writeto(d / f"p{i}.fits")
        rows.append(f"obs{i},c{i}.fits,a{i}.fits,p{i}.fits")
    fits.PrimaryHDU(np.zeros(5)).writeto(d / "bad_angles.fits")
    rows.append("broken,c0.fits,bad_angles.fits,p0.fits")
    rows.append("missing,nowhere.fits,a0.fits,p0.fits")
    (d / "manifest.csv").write_text("\n".join(rows) + "\n")
    return d


def _attempts(out):
    p = out / "attempts.log"
    return [line.split("\t")[0] for line in p.read_text().splitlines()] if p.exists() else []


def _data_files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.name not in ("report.json", "done.json")}


CFG = BatchConfig(kind="exo", settings={"method": "pca", "threshold": 5.0, "ncomp": 3},
                  workers=2)


def test_manifest_reading(archive, tmp_path):
    items = read_manifest(str(archive / "manifest.csv"), "exo")
    assert [it.id for it in items][:2] == ["obs0", "obs1"] and len(items) == 8
    assert items[0].paths["cube"] == str(archive / "c0.fits")
    (tmp_path / "m.csv").write_text("id,cube\nx,a.fits\n")
    with pytest.raises(InputError, match="missing column"):
        read_manifest(str(tmp_path / "m.csv"), "burst")
    (tmp_path / "d.csv").write_text("id,cube\nx,a.fits\nx,b.fits\n")
    with pytest.raises(InputError, match="duplicate"):
        read_manifest(str(tmp_path / "d.csv"), "exo")
    (tmp_path / "u.csv").write_text("id,cube\n../x,a.fits\n")
    with pytest.raises(InputError, match="id"):
        read_manifest(str(tmp_path / "u.csv"), "exo")
    assert len(read_manifest(str(archive / "c*.fits"), "exo")) == 6


def test_run_failures_catalogue_and_resume(archive, tmp_path):
    out = tmp_path / "out"
    items = read_manifest(str(archive / "manifest.csv"), "exo")
    res = run_batch(items, out, CFG)
    status = {r["id"]: r for r in res.rows}
    assert all(status[f"obs{i}"]["status"] == "done" for i in range(6))
    assert status["broken"]["status"] == "failed" and "5 angles" in status["broken"]["error"]
    assert status["missing"]["status"] == "failed" and "no such file" in status["missing"]["error"]
    for i in range(6):
        names = {p.name for p in (out / f"obs{i}").iterdir()}
        assert {"snr.fits", "candidates.ecsv", "report.json", "done.json"} <= names
    cat = Table.read(out / "catalogue.ecsv")
    assert set(cat["obs_id"]) <= {f"obs{i}" for i in range(6)} and len(cat) >= 1
    import pyarrow.parquet as pq

    par = pq.read_table(out / "catalogue.parquet")
    assert par.num_rows == len(cat) and "obs_id" in par.column_names
    summ = Table.read(out / "summary.ecsv")
    assert list(summ["status"]).count("failed") == 2
    # second run: finished rows skipped, failed ones retried
    before = _attempts(out)
    res2 = run_batch(items, out, CFG)
    assert {r["id"] for r in res2.rows if r["status"] == "skipped"} == {f"obs{i}"
                                                                        for i in range(6)}
    assert sorted(_attempts(out)[len(before):]) == ["broken", "missing"]
    # a damaged result is recomputed
    (out / "obs3" / "snr.fits").write_bytes(b"x")
    res3 = run_batch(items, out, CFG)
    assert {r["id"]: r["status"] for r in res3.rows}["obs3"] == "done"


def test_interrupted_run_resumes(archive, tmp_path):
    out = tmp_path / "out"
    items = read_manifest(str(archive / "manifest.csv"), "exo")[:6]
    with pytest.raises(KeyboardInterrupt):
        run_batch(items, out, CFG, stop_after=2)
    finished = {p.name for p in out.iterdir() if (p / "done.json").exists()}
    assert len(finished) >= 2
    n_before = len(_attempts(out))
    res = run_batch(items, out, CFG)
    again = _attempts(out)[n_before:]
    assert not set(again) & finished  # nothing finished is computed again
    assert {r["id"] for r in res.rows if r["status"] == "done"} == set(again)
    assert all(r["status"] in ("done", "skipped") for r in res.rows)


def test_killed_worker_loses_nothing(archive, tmp_path):
    items = read_manifest(str(archive / "manifest.csv"), "exo")[:6]
    clean = tmp_path / "clean"
    run_batch(items, clean, CFG)
    out = tmp_path / "killed"
    killed = []

    def monitor(client, finished):
        if finished == 1 and not killed:
            pids = client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    res = run_batch(items, out, CFG, monitor=monitor)
    assert killed
    assert all(r["status"] == "done" for r in res.rows)
    for it in items:
        assert _data_files(out / it.id) == _data_files(clean / it.id)
    att = _attempts(out)
    assert all(att.count(it.id) <= 2 for it in items)
    assert len(att) <= len(items) + 1  # at most the task running on the killed worker


def test_cli_and_bad_input(archive, tmp_path):
    out = tmp_path / "cli"
    res = runner.invoke(app, ["batch", "exo-detect", str(archive / "manifest.csv"), "-o",
                              str(out), "--method", "cadi", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "2 failed" in res.output
    # another configuration in the same folder: refused unless --overwrite
    res = runner.invoke(app, ["batch", "exo-detect", str(archive / "manifest.csv"), "-o",
                              str(out), "--method", "pca"])
    assert res.exit_code == 2 and "different configuration" in res.output
    assert len([x for x in res.output.splitlines() if x.strip()]) == 1
    for args, match in (
        (["batch", "exo-detect", str(tmp_path / "none.csv"), "-o", str(tmp_path / "x")],
         "no such manifest"),
        (["batch", "exo-detect", str(archive / "manifest.csv"), "-o", str(tmp_path / "y"),
          "--scheduler", "tcp://127.0.0.1:9"], "cannot reach"),
        (["batch", "exo-detect", str(archive / "manifest.csv"), "-o", str(tmp_path / "z"),
          "--method", "magic"], "unknown method"),
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        lines = [x for x in r.output.strip().splitlines() if x.strip()]
        assert len(lines) == 1 and match in lines[0], r.output


def test_burst_batch(tmp_path):
    from inversa.burst.synth import SynthConfig, synthesize_burst
    from inversa.camera.burstio import write_npz
    from inversa.data.images import bundled

    src = bundled("coffee")[..., :64, :64]
    for i in range(2):
        sb = synthesize_burst(src, SynthConfig(scale=2, frames=4), seed=i)
        write_npz(sb.burst, tmp_path / f"b{i}.npz")
    out = tmp_path / "out"
    r = runner.invoke(app, ["batch", "burst", str(tmp_path / "b*.npz"), "-o", str(out),
                            "--scale", "2", "--method", "merge", "--workers", "2"])
    assert r.exit_code == 0, r.output
    for i in range(2):
        rep = json.loads((out / f"b{i}" / "report.json").read_text())
        assert rep["shape"] == [64, 64, 3]
        assert (out / f"b{i}" / "preview.png").exists()


def test_deep_batch_with_the_shipped_model(tmp_path):
    from inversa.exo.deep.model import has_detector

    if not has_detector():
        pytest.skip("no shipped deep-detector weights")
    rows = ["id,cube,angles,psf"]
    for i in range(2):
        sim = simulate(SimConfig(frames=16, size=64, subframes=1, rotation=60.0),
                       [Companion(18.0, 90.0 * i, 3e-4)], seed=20 + i)
        for name, data in (("c", sim.cube), ("a", sim.angles), ("p", sim.psf)):
            fits.PrimaryHDU(data.numpy()).writeto(tmp_path / f"{name}{i}.fits")
        rows.append(f"obs{i},c{i}.fits,a{i}.fits,p{i}.fits")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", "exo-detect", str(tmp_path / "m.csv"), "-o", str(out),
                              "--method", "deep", "--model", "exo_deep", "--workers", "1"])
    assert res.exit_code == 0, res.output
    for i in range(2):
        assert (out / f"obs{i}" / "pfa.fits").exists()
        rep = json.loads((out / f"obs{i}" / "report.json").read_text())
        assert rep["model"] == "exo_deep"
    r = runner.invoke(app, ["batch", "exo-detect", str(tmp_path / "m.csv"), "-o",
                            str(tmp_path / "o2"), "--model", "exo_deep"])
    assert r.exit_code == 2 and "only with --method deep" in r.output
