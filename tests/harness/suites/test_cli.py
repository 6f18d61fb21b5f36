"""`python -m harness ablate`: the dry-run plan, and one-line errors before anything trains."""

import argparse
import json

import pytest

from harness.data import source_channels
from harness.suites import cli


def ablate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ablate")
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_dry_run_of_the_paper_suites_shows_xflip_on_ffhq_and_the_per_dataset_gammas(tmp_path, capsys):
    results = tmp_path / "results"
    assert ablate(["--suite", "all", "--scale", "paper", "--dry-run", "--results", str(results),
                   "--data", "LSUN Church=/data/church"]) == 0
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not results.exists()  # trains and writes nothing
    assert len(plan) == 35
    by_run = {record["run"]: record for record in plan}
    for record in plan:
        options = record["options"]
        assert options["xflip"] == (record["paper_dataset"] == "FFHQ")  # --mirror-augment=true on FFHQ only
        assert options["seed"] == record["seed"] == 0 and options["config"]["ema_rampup"] is None
    gamma = lambda run: by_run[run]["options"]["config"]["r1_gamma"]  # noqa: E731
    assert gamma("table3/F__lsun-church__seed0") == gamma("table3/F__lsun-horse__seed0") == 100.0
    assert gamma("table3/F__lsun-cat__seed0") == gamma("table1/F__lsun-car__seed0") == 10.0
    assert gamma("table3/A__lsun-church__seed0") == 10.0 and gamma("table1/E__ffhq__seed0") == 100.0
    assert "--gamma=100" in by_run["table3/F__lsun-horse__seed0"]["settings_source"]
    kimg = {record["paper_dataset"]: record["options"]["kimg"] for record in plan}
    assert kimg == {"FFHQ": 25000, "LSUN Car": 57000, "LSUN Cat": 88000, "LSUN Church": 88000,
                    "LSUN Horse": 100000}
    church = by_run["table3/F__lsun-church__seed0"]
    assert church["dataset"] == church["options"]["data"] == "/data/church"
    assert by_run["table1/E__ffhq__seed0"]["options"]["data"] == '<not given: --data "FFHQ=PATH">'
    assert by_run["table1/E__ffhq__seed0"]["evaluations"] == 10
    assert by_run["table1/E__ffhq__seed0"]["cells"] == [
        "table1: E | FFHQ", "table2: G output skips | FFHQ / D residual", "figure8: (a) config E | FFHQ"]


def test_dry_run_plans_one_run_per_seed(capsys):
    every_column = ["--set", "columns=[]"]  # the planning rule on all of Table 1, not smoke's cells
    assert ablate(["--suite", "table1", "--scale", "smoke", "--dry-run", "--set", "seeds=3",
                   *every_column]) == 0
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(plan) == 13 * 3
    assert [record["options"]["seed"] for record in plan if record["config"] == "E"
            and record["paper_dataset"] == "FFHQ"] == [0, 1, 2]
    # the networks' channels come from each stand-in: 1 for grey Fashion-MNIST, 3 for OpenMoji
    assert all(record["options"]["config"]["img_channels"] == source_channels(record["dataset"])
               for record in plan)
    assert {record["options"]["config"]["img_channels"] for record in plan
            if record["dataset"].startswith("fashion-mnist")} <= {1}


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "nonsense=1"], "unknown scale field(s) ['nonsense']"),
    (["--suite", "nope"], "unknown suite 'nope'; known suites: all, table1"),
    (["--set", "kimg=-1"], "scale field kimg=-1 is not valid"),
    (["--set", "repeats=0"], "'repeats' is now max_evaluations"),
    (["--set", "max_evaluations=0"], "scale field max_evaluations=0 is not valid"),
    (["--set", "kimg=NaN"], "scale field kimg=nan is not valid"),
    (["--set", "kimg=Infinity"], "scale field kimg=inf is not valid"),
    (["--set", "kimg=inf"], "scale field kimg='inf' is not valid"),
    (["--set", "batch_size=1.5"], "scale field batch_size=1.5 is not valid"),
    (["--set", "seeds=true"], "scale field seeds=True is not valid"),
    (["--set", "kimg"], "is not of the form key=value"),
    (["--data", "ImageNet=/x"], "datasets names unknown ['ImageNet']"),
    (["--scale", "cpu", "--suite", "table3"], "scale 'cpu' covers no cell of table3"),
    (["--scale", "small"], '--data "FFHQ=/path/to/images"'),
    (["--set", "mapping_layers=0"], "scale field mapping_layers=0 is not valid"),
    (["--ray-address", "auto"], "--ray-address applies to --executor ray"),
])
def test_bad_input_exits_with_one_line_before_anything_trains(tmp_path, capsys, argv, message):
    results = tmp_path / "results"
    assert ablate([*argv, "--results", str(results)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ablate: error: ") and captured.err.count("\n") == 1
    assert message in captured.err
    assert not results.exists()


def test_dry_run_names_finished_runs_trained_with_other_settings_on_stderr(tmp_path, capsys):
    """The plan stays JSON lines on stdout; the runs that would stop the real command go to stderr."""
    results = tmp_path / "results"
    assert ablate(["--suite", "table2", "--scale", "smoke", "--dry-run", "--results", str(results)]) == 0
    plan = {json.loads(line)["run"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    run = "table2/G-original_D-original__ffhq__seed0"
    options = plan[run]["options"] | {"config": plan[run]["options"]["config"] | {"r1_gamma": 100.0}}
    (results / run).mkdir(parents=True)
    (results / run / "options.json").write_text(json.dumps(options))
    (results / run / "summary.json").write_text(json.dumps({"done": True}))
    assert ablate(["--suite", "table2", "--scale", "smoke", "--dry-run", "--results", str(results)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == len(plan)
    assert captured.err == (f"ablate: this command would stop: finished with other settings: {run} "
                            f"(config.r1_gamma: 100.0 in options.json, 0.0244140625 now)\n")

