"""environment.json content: machine, packages, git, all JSON-serialisable."""

import json

from harness.environment import collect_environment, package_versions


def test_environment_record_is_json_and_names_torch():
    record = collect_environment("cpu")
    assert json.loads(json.dumps(record)) == record
    assert record["accelerator"]["device"] == "cpu"
    assert record["packages"]["torch"] is not None
    assert set(record["git"]) == {"commit", "dirty"}
    assert package_versions(("surely-not-installed-package",)) == {"surely-not-installed-package": None}
