"""`python -m harness import-official`: the official pickle in, measurable registry networks out.

The GPU calibration test (FID of the official FFHQ config F network against the published 2.84)
runs where these exist, and skips cleanly elsewhere:
- HARNESS_OFFICIAL_FFHQ_F_PKL: the official FFHQ 1024 config F network pickle (stylegan2-ada-pytorch /
  stylegan3 format, e.g. stylegan2-ffhq-1024x1024.pkl);
- HARNESS_FFHQ_DATA: FFHQ at 1024x1024 as a dataset source of harness.data (folder, zip, ...);
- the Inception file pt_inception-2015-12-05-6726825d.pth in $HARNESS_WEIGHTS_DIR (or the default
  weights folder, see harness/metrics/features/weights.py).
"""

import hashlib
import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import variants
from harness.cli import main
from harness.official.cli import SNAPSHOT
from tests.harness.official.conftest import small_networks
from tests.harness.official.official_format import official_pickle_bytes
from tests.harness.official.test_official_convert import assert_matches_official

PUBLISHED_FID_F = 2.84  # FFHQ config F, Table 1 (SPEC section 5)
# One fid50k evaluation scatters by about 0.03 (SPEC section 4: 2.84 +- 0.03 over repeats); allow 3 sd.
FID_TOLERANCE = 0.1


def _import(pkl, out, *extra) -> dict:
    assert main(["import-official", str(pkl), "--out", str(out), *extra]) == 0
    return json.loads((out / "official.json").read_text())


def test_import_official_reproduces_the_official_outputs(parity_dir, tmp_path):
    pkl = parity_dir / "official-Gskip-Dresnet-32.pkl"
    record = _import(pkl, tmp_path / "net")
    assert record["source"]["sha256"] == hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert record["source"]["code_executed"] is False
    assert record["names"]["G_ema"]["synthesis.blocks.3.layers.0.weight"] == "synthesis.b32.conv0.weight"
    expected = load_file(parity_dir / "official-Gskip-Dresnet-32.expected.safetensors")
    G = variants.load_network(tmp_path / "net" / SNAPSHOT, impl="ref").eval()
    D = variants.load_network(tmp_path / "net" / "D", impl="ref").eval()
    z = expected["in.z"]
    with torch.no_grad():
        img, img_psi = G(z, noise_mode="const"), G(z, psi=0.5, noise_mode="const")
    x = expected["out.G_ema_img"].clone().requires_grad_(True)
    logits = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x)
    assert_matches_official({"out.G_ema_img": img, "out.G_ema_img_psi0.5": img_psi,
                             "out.D_logits": logits.detach(),
                             "out.R1_sq_grad_norm": grad.square().sum(dim=[1, 2, 3])}, expected)
    G_train = variants.load_network(tmp_path / "net" / "G")  # G_ema = G + 0.01 randn in the fixture
    difference = G_train.state_dict()["synthesis.blocks.0.const.weight"] - G.state_dict()[
        "synthesis.blocks.0.const.weight"]
    assert 0.003 < difference.abs().mean() < 0.03


@pytest.mark.parametrize("g_arch, d_arch", [("skip", "residual"), ("original", "original"),
                                            ("residual", "skip")])
def test_registry_networks_round_trip_through_the_official_format(tmp_path, g_arch, d_arch):
    G, D = small_networks(g_arch, d_arch)
    G_ema, _ = small_networks(g_arch, d_arch)
    pkl = tmp_path / "network-snapshot-000100.pkl"
    pkl.write_bytes(official_pickle_bytes({"G": G, "D": D, "G_ema": G_ema}))
    record = _import(pkl, tmp_path / "out")
    assert record["networks"] == {"G_ema": str(SNAPSHOT), "G": "G", "D": "D"}
    for original, saved in ((G_ema, SNAPSHOT), (G, Path("G")), (D, Path("D"))):
        loaded = variants.load_network(tmp_path / "out" / saved)
        assert loaded.registered_name == original.registered_name
        assert loaded.state_dict().keys() == original.state_dict().keys()
        for name, tensor in original.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], tensor), name
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["g_arch"], config["resolution"], config["fmap_base"]) == (g_arch, 16, 256)


def test_an_imported_network_is_measured_by_the_metrics_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    reals = tmp_path / "reals"
    reals.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(reals / f"{index}.png")
    G, D = small_networks()
    pkl = tmp_path / "net.pkl"
    pkl.write_bytes(official_pickle_bytes({"G_ema": G, "D": D}))
    _import(pkl, tmp_path / "net", "--data", str(reals))
    assert main(["metrics", "--network", str(tmp_path / "net"), "--metrics", "fid", "--num-samples", "8",
                 "--features", "random", "--device", "cpu", "--cache-dir", str(tmp_path / "features")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "net" / "metrics.jsonl").read_text().splitlines()]
    assert [row["metric"] for row in rows] == ["fid"] and math.isfinite(rows[0]["value"])


def test_bad_pickles_fail_with_one_line_naming_the_cause(tmp_path, capsys):
    G, _ = small_networks()
    pkl = tmp_path / "only_g.pkl"
    pkl.write_bytes(official_pickle_bytes({"G": G}))
    assert main(["import-official", str(pkl), "--out", str(tmp_path / "out")]) == 2
    assert "has no official G_ema network (keys: ['G', 'augment_pipe'" in capsys.readouterr().err
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": _Command()}))
    assert main(["import-official", str(evil), "--out", str(tmp_path / "out")]) == 2
    assert "refused global posix.system" in capsys.readouterr().err.replace("nt.system", "posix.system")
    assert not (tmp_path / "out").exists()


class _Command:
    def __reduce__(self):
        return os.system, ("true",)


def _calibration_files():
    pkl, data = os.environ.get("HARNESS_OFFICIAL_FFHQ_F_PKL"), os.environ.get("HARNESS_FFHQ_DATA")
    from harness.metrics.features.weights import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES, WEIGHTS_DIR_ENV

    weights = Path(os.environ.get(WEIGHTS_DIR_ENV) or DEFAULT_WEIGHTS_DIR).expanduser()
    missing = [what for what, present in (
        ("HARNESS_OFFICIAL_FFHQ_F_PKL", pkl and Path(pkl).is_file()),
        ("HARNESS_FFHQ_DATA", bool(data)),
        (f"{WEIGHT_FILES['inception'].filename} in {weights}",
         (weights / WEIGHT_FILES["inception"].filename).is_file())) if not present]
    if missing:
        pytest.skip(f"FID calibration needs {', '.join(missing)}")
    return Path(pkl), data, weights


@pytest.mark.gpu
@pytest.mark.slow
def test_official_ffhq_config_f_has_the_published_fid(tmp_path):
    pkl, data, weights = _calibration_files()
    _import(pkl, tmp_path / "ffhq-f", "--data", data)
    assert main(["metrics", "--network", str(tmp_path / "ffhq-f"), "--metrics", "fid", "--features",
                 "inception", "--weights-dir", str(weights), "--num-samples", "50000", "--device", "cuda",
                 "--batch-size", "64"]) == 0
    row = json.loads((tmp_path / "ffhq-f" / "metrics.jsonl").read_text().splitlines()[-1])
    assert abs(row["value"] - PUBLISHED_FID_F) <= FID_TOLERANCE, row["value"]
