import torch

from inversa.nets.tiling import tiled


def test_tiled_identity_and_local_op():
    x = torch.rand(1, 2, 301, 203)
    torch.testing.assert_close(tiled(lambda t: t * 3, x, tile=96, overlap=8), 3 * x)
    # a local 3x3 mean: identical to the whole-image result away from tile borders effects
    box = torch.nn.functional.avg_pool2d
    def f(t):
        return box(torch.nn.functional.pad(t, (1, 1, 1, 1), mode="replicate"), 3, stride=1)

    whole, tiles = f(x), tiled(f, x, tile=96, overlap=8)
    assert float((whole - tiles).abs().max()) < 0.05
    assert float((whole - tiles).abs().mean()) < 1e-3
