"""Shared test setup: CPU runs stay deterministic (GPU tests skip without CUDA: the root conftest.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield
