"""Fixtures shared by the results-store, findings and report tests."""

import pytest

from tests.harness.fixtures import build_fixture_tree


@pytest.fixture
def results_tree(tmp_path):
    """A fresh synthetic results store (see tests/harness/fixtures.py)."""
    return build_fixture_tree(tmp_path / "results")
