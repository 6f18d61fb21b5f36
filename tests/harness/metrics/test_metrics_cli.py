"""`python -m harness metrics`: argument parsing and the hand-off to compute()."""

import argparse
import json

import pytest

from harness.metrics import cli


def _parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_parses_the_documented_options():
    args = _parse(["--run", "runs/E", "--metrics", "fid,kid,pr,ppl", "--num-samples", "1000",
                   "--repeats", "10", "--features", "efficientnet-lite0", "--weights-dir", "/w",
                   "--snapshot", "0.5", "--device", "cpu", "--feature-input-size", "128"])
    assert args.metrics == ["fid", "kid", "pr", "ppl"] and args.repeats == 10 and args.snapshot == 0.5
    assert args.features == "efficientnet-lite0" and args.feature_input_size == 128
    assert args.weights_dir == "/w"
    assert _parse(["--run", "r"]).num_samples == 50_000  # paper scale by default


def test_rejects_unknown_metrics_and_networks(capsys):
    with pytest.raises(SystemExit):
        _parse(["--run", "r", "--metrics", "fid,is"])
    assert "unknown metric(s) ['is']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["--run", "r", "--features", "resnet"])


def test_run_computes_and_prints_one_line_per_metric(fake_run, fake_loaders, tmp_path, monkeypatch, capsys):
    load_generator, open_dataset, _ = fake_loaders
    real_compute = cli.compute
    monkeypatch.setattr(cli, "compute", lambda *a, **k: real_compute(
        *a, **k, load_generator=load_generator, open_dataset=open_dataset))
    args = _parse(["--run", str(fake_run), "--metrics", "fid,ppl", "--num-samples", "8",
                   "--features", "random", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")])
    assert cli.run(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["metric"] for p in printed] == ["fid", "ppl"]
    assert all(p["label"] == "not comparable to published values" for p in printed)
    assert len((fake_run / "metrics.jsonl").read_text().splitlines()) == 2
