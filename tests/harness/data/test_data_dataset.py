"""DatasetInfo JSON round trip, ImageDataset.get with x-flips, to_float."""

import json

import numpy as np
import pytest
import torch

from harness.data import DatasetInfo, ImageDataset, apply_xflip, to_float


def _info(num_images=4, resolution=4, **changes):
    values = dict(name="toy", source="/data/toy", resolution=resolution, num_images=num_images, num_skipped=1,
                  content_hash="ab" * 32, licence="unknown (user-provided)", attribution="me",
                  skipped_files=("bad.png",))
    values.update(changes)
    return DatasetInfo(**values)


def _dataset(num_images=4, resolution=4):
    images = np.arange(num_images * 3 * resolution * resolution, dtype=np.int64) % 251
    return ImageDataset(images.astype(np.uint8).reshape(num_images, 3, resolution, resolution),
                        _info(num_images, resolution))


def test_info_round_trips_through_json():
    info = _info(content_height=3)
    assert DatasetInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    contract_keys = {"name", "source", "resolution", "num_images", "num_skipped", "content_hash", "licence",
                     "attribution"}
    assert set(info.to_dict()) >= contract_keys


def test_info_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown DatasetInfo key\(s\) \['colour'\]; known: name, source"):
        DatasetInfo.from_dict({**_info().to_dict(), "colour": "red"})


def test_get_returns_uint8_batch_in_index_order():
    dataset = _dataset()
    batch = dataset.get([2, 0])
    assert batch.dtype == torch.uint8 and batch.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(batch.numpy(), dataset.images[[2, 0]])
    np.testing.assert_array_equal(dataset.get(torch.tensor([1])).numpy(), dataset.images[1:2])


def test_get_flips_only_masked_images_along_x():
    dataset = _dataset()
    batch = dataset.get(np.array([0, 1]), xflip=np.array([True, False])).numpy()
    np.testing.assert_array_equal(batch[0], dataset.images[0][:, :, ::-1])
    np.testing.assert_array_equal(batch[1], dataset.images[1])


def test_apply_xflip_rejects_wrong_mask():
    with pytest.raises(ValueError, match="bool of shape \\[2\\]"):
        apply_xflip(torch.zeros(2, 3, 4, 4), torch.ones(3, dtype=torch.bool))


def test_get_rejects_out_of_range_and_non_integer_indices():
    dataset = _dataset()
    with pytest.raises(IndexError, match="4 images"):
        dataset.get([4])
    with pytest.raises(TypeError, match="integers"):
        dataset.get([0.5])


def test_images_are_read_only():
    dataset = _dataset()
    with pytest.raises(ValueError, match="read-only"):
        dataset.images[0, 0, 0, 0] = 1


def test_dataset_checks_info_matches_images():
    with pytest.raises(ValueError, match="do not match info"):
        ImageDataset(np.zeros((2, 3, 4, 4), np.uint8), _info(num_images=3))


def test_to_float_maps_0_and_255_to_minus_one_and_one():
    values = to_float(torch.tensor([0, 255, 127], dtype=torch.uint8))
    assert values.dtype == torch.float32
    torch.testing.assert_close(values, torch.tensor([-1.0, 1.0, 127 / 127.5 - 1]))
    torch.testing.assert_close(to_float(np.array([255], np.uint8)), torch.tensor([1.0]))
    with pytest.raises(TypeError, match="uint8"):
        to_float(torch.zeros(2))
