"""Data order (seeded, per epoch, shared by configs) and resizing of reals for progressive growing."""

import numpy as np
import torch
import torch.nn.functional as F

from harness.data import DatasetInfo, ImageDataset
from harness.train.batches import DataOrder, prepare_reals


def test_order_is_a_seeded_permutation_per_epoch():
    order = DataOrder(10, seed=3)
    first, flips = order.indices(0, 10)
    assert sorted(first) == list(range(10)) and not flips.any()
    second, _ = order.indices(10, 10)
    assert sorted(second) == list(range(10)) and not np.array_equal(first, second)
    straddling, _ = order.indices(7, 6)  # crosses the epoch boundary
    np.testing.assert_array_equal(straddling, np.concatenate([first[7:], second[:3]]))
    np.testing.assert_array_equal(DataOrder(10, seed=3).indices(0, 10)[0], first)
    assert not np.array_equal(DataOrder(10, seed=4).indices(0, 10)[0], first)


def test_xflip_doubles_the_epoch_with_mirrored_copies():
    indices, flips = DataOrder(5, seed=0, xflip=True).indices(0, 10)
    assert flips.sum() == 5
    assert sorted(indices[flips]) == list(range(5)) and sorted(indices[~flips]) == list(range(5))


def test_batch_reads_the_dataset_and_flips():
    images = np.arange(4 * 3 * 4 * 4, dtype=np.uint8).reshape(4, 3, 4, 4)
    info = DatasetInfo(name="t", source="t", resolution=4, num_images=4, num_skipped=0, content_hash="x",
                       licence="", attribution="")
    dataset = ImageDataset(images, info)
    order = DataOrder(4, seed=1, xflip=True)
    indices, flips = order.indices(0, 8)
    batch = order.batch(dataset, 0, 8)
    for row, (index, flip) in enumerate(zip(indices, flips, strict=True)):
        expected = torch.from_numpy(images[index])
        assert torch.equal(batch[row], expected.flip(2) if flip else expected)


def test_prepare_reals_fades_and_upscales_to_full_resolution():
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    as_float = images.float() / 127.5 - 1

    def repeated(x, factor):
        return x.repeat_interleave(factor, 2).repeat_interleave(factor, 3)

    full = prepare_reals(images, 16, 1.0, torch.device("cpu"))
    torch.testing.assert_close(full, as_float)
    at_8 = prepare_reals(images, 8, 1.0, torch.device("cpu"))  # 2x2 block means, repeated to 16x16
    torch.testing.assert_close(at_8, repeated(F.avg_pool2d(as_float, 2), 2))
    fading = prepare_reals(images, 8, 0.0, torch.device("cpu"))  # alpha 0: the 4x4 version, repeated
    torch.testing.assert_close(fading, repeated(F.avg_pool2d(as_float, 4), 4))
    half = prepare_reals(images, 8, 0.5, torch.device("cpu"))
    torch.testing.assert_close(half, 0.5 * (fading + at_8))
    assert half.shape == (2, 3, 16, 16)
