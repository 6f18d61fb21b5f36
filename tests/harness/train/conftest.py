"""Shared fixtures of the training tests."""

import pytest

from tests.harness.train.tiny import write_pngs


@pytest.fixture(scope="session")
def png_folder(tmp_path_factory):
    """24 random 16x16 RGB PNGs (the dataset of the end-to-end runs)."""
    return write_pngs(tmp_path_factory.mktemp("pngs"))
