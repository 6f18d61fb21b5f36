"""PhaseTimer: seconds per phase, images per second, unknown phases rejected."""

import time

import pytest

from harness.measure.throughput import PhaseTimer


def test_phase_seconds_and_rates():
    timer = PhaseTimer("cpu")
    with timer.phase("G_main"):
        time.sleep(0.05)
    with timer.phase("D_main"):
        time.sleep(0.02)
    timer.add_images(10)
    assert timer.seconds["G_main"] == pytest.approx(0.05, abs=0.03)
    assert timer.seconds["G_reg"] == 0.0
    summary = timer.summary()
    assert summary["img_per_s"] == pytest.approx(10 / (timer.seconds["G_main"] + timer.seconds["D_main"]))
    assert summary["img_per_s/G_reg"] is None
    assert summary["img_per_s/D_main"] == pytest.approx(10 / timer.seconds["D_main"])
    assert timer.window_seconds() >= timer.training_seconds()
    timer.reset()
    assert timer.images == 0 and timer.training_seconds() == 0.0


def test_unknown_phase():
    with pytest.raises(ValueError, match="unknown phase 'G'"):
        with PhaseTimer("cpu").phase("G"):
            pass
