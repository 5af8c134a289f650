"""Moving objects' own motion in HDR bursts (inversa.burst.local_motion): tile matching,
the displacement fields, the sample-by-sample check of displaced samples, and the gain
in the regions objects cross."""

import math

import torch

from inversa.burst.hdr import (
    HDRConfig,
    confidence,
    frames_inside,
    mu_law,
    prepare_hdr,
    reconstruct_hdr,
    relative_exposures,
    saturation_masks,
)
from inversa.burst.local_motion import (
    LocalMotionConfig,
    _hypotheses,
    _match,
    object_flow,
    trajectories,
)
from inversa.burst.local_motion import _box as lm_box
from inversa.burst.sampling import sample_at
from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
from inversa.camera.noise import NoiseLevels
from inversa.data.images import bundled

LEVELS = NoiseLevels(2e-3, 2e-6)


def _burst(name: str, moving: int, seed: int):
    cfg = SynthConfig(scale=2, frames=9, exposures=split_exposures("1,4,1/4...", 9),
                      hdr_peak=4.0, lights=1, moving_objects=moving, noise=LEVELS)
    return synthesize_burst(bundled(name), cfg, seed=seed, box=(100, 100, 160, 160))


def _mu(x, gt, mask=None):
    pk = float(gt.max())
    d = mu_law(x[0], pk) - mu_law(gt, pk)
    d = d[:, mask] if mask is not None else d
    return -10 * math.log10(float((d ** 2).mean()))


def test_tile_matching_finds_subpixel_translations():
    g = torch.Generator().manual_seed(0)
    ref = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 100, 100, generator=g,
                                                    dtype=torch.float64), 5, 1)[0, 0]
    ys, xs = torch.meshgrid(torch.arange(96.), torch.arange(96.), indexing="ij")
    t = (3.3, -5.6)  # frame(q) = ref(q + t), up to the borders
    frame = sample_at(ref[None, None], (xs + t[0]).double()[None],
                      (ys + t[1]).double()[None], padding="border")[0, 0]
    corners = torch.tensor([[40, 40], [24, 56], [64, 16]])
    seen = torch.ones(96, 96, dtype=torch.bool)
    found = _match(ref, frame, seen, corners, LocalMotionConfig())
    assert (found - torch.tensor(t, dtype=torch.float64)).abs().max() < 0.25, found


def test_static_burst_is_left_almost_alone():
    """On a static scene only the few samples g distrusts are searched (clipping,
    aliasing): almost no displacement, the same result."""
    sb = _burst("coffee", 0, 3)
    on = reconstruct_hdr(sb.burst, HDRConfig(scale=2), noise=LEVELS)
    off = reconstruct_hdr(sb.burst, HDRConfig(scale=2, local_motion=False), noise=LEVELS)
    assert on.flow is None or float((on.flow.abs().sum(1) > 0).float().mean()) < 0.03
    assert abs(_mu(on.x, sb.gt) - _mu(off.x, sb.gt)) < 0.1


def test_moving_objects_get_displacements_and_more_frames_are_trusted():
    sb = _burst("astronaut", 2, 5)
    off = prepare_hdr(sb.burst, HDRConfig(scale=2, local_motion=False), noise=LEVELS)
    on = prepare_hdr(sb.burst, HDRConfig(scale=2), noise=LEVELS)
    assert on.flow is not None and on.flow.shape == (9, 2, 160, 160)
    assert float(on.flow[0].abs().max()) == 0.0  # the reference does not move
    moved = on.flow.abs().sum(1) > 0
    # displacements only where objects pass (plus the margin of the tiles)
    m = sb.moving[None].expand_as(moved)
    assert float(moved[m].float().mean()) > 5 * float(moved[~m].float().mean())
    # frames are trusted again where the objects are
    assert float(on.result.confidence[1:].mean()) > float(off.result.confidence[1:].mean())


def test_object_motion_improves_the_moving_regions():
    gains = []
    for name, seed in (("astronaut", 5), ("chelsea", 6)):
        sb = _burst(name, 2, seed)
        off = reconstruct_hdr(sb.burst, HDRConfig(scale=2, local_motion=False), noise=LEVELS)
        on = reconstruct_hdr(sb.burst, HDRConfig(scale=2), noise=LEVELS)
        gains.append(_mu(on.x, sb.gt, sb.moving) - _mu(off.x, sb.gt, sb.moving))
    assert sum(gains) / len(gains) > 0.5, gains


def test_displaced_samples_are_checked_one_by_one():
    """A wrong displacement on a textured region keeps the local mean but misplaces the
    detail: the sample-by-sample test distrusts it, the mean test alone does not (over
    windows of 9 samples; smaller ones catch part of it by their means already)."""
    sb = _burst("astronaut", 0, 3)
    b = sb.burst
    rel = relative_exposures(b)
    raw = b.raw.float()
    y_n = raw / rel.reshape(-1, 1, 1)
    inp = prepare_hdr(b, HDRConfig(scale=2, local_motion=False), noise=LEVELS)
    m_hr = inp.m_hr
    usable = ~saturation_masks(raw, 1)
    inside = frames_inside(m_hr, 80, 80, 2)
    flow = torch.zeros(9, 2, 160, 160, dtype=torch.float64)
    flow[6, 0, 40:120, 40:120] = 3.0  # frame 6 (exposure 1): 3 pixels off
    region = torch.zeros(80, 80, dtype=torch.bool)
    region[24:56, 24:56] = True
    strict = confidence(y_n, rel, m_hr, 2, b.cfa, LEVELS, usable, HDRConfig(g_window=9),
                        inside, flow)
    loose = confidence(y_n, rel, m_hr, 2, b.cfa, LEVELS, usable,
                       HDRConfig(g_window=9, g_chi=1e9), inside, flow)
    assert float(strict[6][region].mean()) < 0.5 * float(loose[6][region].mean())
    assert float(strict[6][region].mean()) < 0.2
    # the untouched frames are unaffected
    torch.testing.assert_close(strict[4], loose[4])


def test_object_flow_leaves_tiny_frames_alone():
    y = torch.rand(3, 8, 8)
    g = torch.zeros(3, 8, 8)
    m = torch.eye(3, dtype=torch.float64).repeat(3, 1, 1)
    assert object_flow(y, torch.ones(3), m, 1, "RGGB", g, torch.ones(3, 8, 8, dtype=torch.bool)) \
        is None


def test_one_translation_per_object_recovered_sub_pixel_in_noise():
    """A textured disc moved by d on top of a still background, in noise: the winning
    hypothesis, refined over the pixels it fits, lands within a tenth of a pixel of d
    (its whole-pixel candidate alone is 0.5 off), most of the disc gets it and the
    background none."""
    g = torch.Generator().manual_seed(1)
    n = 128
    tex = torch.nn.functional.avg_pool2d(torch.rand(1, 1, n + 4, n + 4, generator=g,
                                                    dtype=torch.float64), 5, 1)[0, 0]
    ref = tex.clone()
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float64),
                            torch.arange(n, dtype=torch.float64), indexing="ij")
    d = torch.tensor([-7.3, 4.6], dtype=torch.float64)  # frame(q) = ref(q + d) on the disc
    disc = ((xs - 70) ** 2 + (ys - 60) ** 2) < 24 ** 2
    moved = sample_at(ref[None, None], (xs + d[0])[None], (ys + d[1])[None],
                      padding="border")[0, 0]
    frame = torch.where(disc, moved, ref)
    frame = frame + 0.02 * torch.randn(n, n, generator=g, dtype=torch.float64)
    ref_n = ref + 0.02 * torch.randn(n, n, generator=g, dtype=torch.float64)
    base = lm_box((ref_n - frame) ** 2)
    # the region g would distrust: the disc where the frame shows it and where the
    # reference did
    was = ((xs - 70 - d[0]) ** 2 + (ys - 60 - d[1]) ** 2) < 24 ** 2
    region = disc | was
    floor = 2 * float(base[~region].median())
    corners = torch.stack(torch.meshgrid(torch.arange(0, n - 16 + 1, 8),
                                         torch.arange(0, n - 16 + 1, 8), indexing="ij"),
                          -1).reshape(-1, 2)
    inside = torch.tensor([bool(region[cy:cy + 16, cx:cx + 16].any())
                           for cy, cx in corners.tolist()])
    cand = _match(ref_n, frame, torch.ones(n, n, dtype=torch.bool), corners[inside],
                  LocalMotionConfig())
    u, _ = _hypotheses(ref_n, frame, base, region, floor, cand, LocalMotionConfig())
    got = torch.isfinite(u[0])
    core = disc & ~(torch.nn.functional.max_pool2d((~disc).float()[None, None], 7, 1, 3)[0, 0]
                    > 0)
    assert float(got[core].float().mean()) > 0.8
    assert float(got[~region].float().mean()) == 0.0
    err = (u[:, core & got] - d[:, None]).norm(dim=0)
    assert float(err.median()) < 0.1, float(err.median())


def test_trajectories_fit_constant_velocities_and_drop_lone_translations():
    """Frames 1..6 each found object A at ``i v`` (to within half a pixel) and frames 2,
    4 object B at ``i w``; frame 3 also found a translation no other frame supports.
    The two velocities come back to within a tenth of a pixel per frame, the lone
    one does not."""
    g = torch.Generator().manual_seed(0)
    v = torch.tensor([1.3, -0.7], dtype=torch.float64)
    w = torch.tensor([-2.0, 2.5], dtype=torch.float64)
    chosen = {i: [(i * v + 0.5 * (torch.rand(2, generator=g, dtype=torch.float64) - 0.5), 300)]
              for i in range(1, 7)}
    chosen[2].append((2 * w, 200))
    chosen[4].append((4 * w + 0.2, 150))
    chosen[3].append((torch.tensor([9.0, 9.0], dtype=torch.float64), 400))
    got = trajectories(chosen)
    assert got.shape == (2, 2)
    for truth in (v, w):
        assert float((got - truth).norm(dim=1).min()) < 0.1, got
    assert trajectories({}).shape == (0, 2)


def test_trajectories_let_a_slow_object_share_its_early_translation():
    """A slow object's frame-1 translation (1.8, 0.3) also lies within the tolerance of
    a stronger velocity (0.6, 0.5); its frame-6 translation alone would be dropped.
    Both velocities come back (the slow one from frames 1 and 6), each within 0.15
    pixels per frame: the two frame-1 translations join both."""
    a = torch.tensor([0.6, 0.5], dtype=torch.float64)
    b = torch.tensor([1.8, 0.3], dtype=torch.float64)
    chosen = {i: [(i * a, 500)] for i in range(1, 5)}
    chosen[1].append((b.clone(), 200))
    chosen[6] = [(6 * b, 150)]
    got = trajectories(chosen)
    assert got.shape == (2, 2), got
    for truth in (a, b):
        assert float((got - truth).norm(dim=1).min()) < 0.15, got


def test_object_motion_switches_keep_the_fields_sound():
    """With the second pass (constant-velocity candidates) and the relaxed test on, the
    reference still does not move, displacements stay where objects pass, and the
    moving regions come out within a few tenths of a dB of the default (both were
    measured as a wash)."""
    sb = _burst("astronaut", 2, 5)
    cfg = LocalMotionConfig(trajectories=True, relaxed=True)
    on = reconstruct_hdr(sb.burst, HDRConfig(scale=2, object_motion=cfg), noise=LEVELS)
    base = reconstruct_hdr(sb.burst, HDRConfig(scale=2), noise=LEVELS)
    assert on.flow is not None and float(on.flow[0].abs().max()) == 0.0
    moved = on.flow.abs().sum(1) > 0
    m = sb.moving[None].expand_as(moved)
    assert float(moved[m].float().mean()) > 5 * float(moved[~m].float().mean())
    assert abs(_mu(on.x, sb.gt, sb.moving) - _mu(base.x, sb.gt, sb.moving)) < 0.5
