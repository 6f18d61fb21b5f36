"""Multi-process training (gloo on CPU) is the single-process run of the same global batch.

Unit tests check the pieces (row sharding keeps minibatch-std groups, sharded noise equals the
rows of the global noise, batch checks); the slow tests run `torchrun --nproc_per_node=2` and
compare with one process: loss curve, final weights and random streams, resuming a 2-process
checkpoint in 1 process, and a rank that dies stopping the other with a clear error.
"""

import argparse
import copy
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import variants
from harness.distributed import (
    Distributed,
    RankFailureError,
    ShardedNoise,
    batch_sizes,
    check_batches,
    shard_indices,
)
from harness.train import cli as train_cli
from harness.train.schedule import Schedule
from tests.harness.train.tiny import tiny_config
from variants.layers import MinibatchStdDev

REPO_ROOT = Path(__file__).resolve().parents[3]
HALF_KIMG, FULL_KIMG = 0.048, 0.096  # 12 and 24 minibatches of 4: R1 at steps 0 and 16, PL every 4
LOSS_KEYS = ("loss/G", "loss/D", "loss/r1", "loss/pl", "pl_mean", "scores/real", "scores/fake",
             "grad_norm/G_main", "grad_norm/G_reg", "grad_norm/D_main", "grad_norm/D_reg")


# Pieces ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch, world, group", [(8, 2, 4), (8, 2, 2), (12, 3, 2), (6, 2, 1), (8, 4, 2)])
def test_shards_partition_the_batch_and_keep_minibatch_std_groups(batch, world, group):
    features = torch.randn(batch, 4, 2, 2, dtype=torch.float64)
    whole = MinibatchStdDev(group)(features)
    shards = [shard_indices(batch, world, rank, group) for rank in range(world)]
    assert sorted(torch.cat(shards).tolist()) == list(range(batch))
    for rows in shards:
        torch.testing.assert_close(MinibatchStdDev(group)(features[rows]), whole[rows], rtol=0, atol=1e-12)


def test_shard_indices_without_groups_is_the_contiguous_slice():
    assert shard_indices(6, 3, 1).tolist() == [2, 3]


@pytest.mark.parametrize("batch, world, group, message", [(6, 4, 1, "divisible by the number"),
                                                          (4, 2, 4, "mbstd_group")])
def test_unsplittable_batches_are_rejected_with_the_remedy(batch, world, group, message):
    with pytest.raises(ValueError, match=message):
        shard_indices(batch, world, 0, group)


def brute_force_batches(schedule: Schedule) -> set[int]:
    sizes, shown = set(), 0
    while shown < schedule.total_images:
        batch = schedule.batch_for_step(shown)
        sizes.add(batch)
        shown += batch
    return sizes


@pytest.mark.parametrize("name, kimg", [("E", 0.1), ("E", 0.096), ("A", 0.5), ("D", 0.37)])
def test_batch_sizes_walks_phases_like_the_step_loop(name, kimg):
    schedule = Schedule(tiny_config(name, batch_size=8), round(kimg * 1000), 0.5)
    assert batch_sizes(schedule) == brute_force_batches(schedule)


def test_check_batches_names_the_clipped_last_batch_and_replicated_path_length_batches():
    config = tiny_config("E", batch_size=8)
    with pytest.raises(ValueError, match="each of 2 ranks would get 1 of a batch of 2"):
        check_batches(Schedule(config, 98), 2, 4, 2)  # 12 x 8 + 2
    assert check_batches(Schedule(config, 96), 4, 2, 2) == []
    assert check_batches(Schedule(config, 96), 8, 1, 2) == [4]  # PL batch 4 over 8 ranks: replicated


def test_sharded_noise_draws_the_global_noise_and_keeps_this_ranks_rows():
    G = variants.build_generator(tiny_config("E")).eval()
    with torch.no_grad():
        for module in G.modules():
            if hasattr(module, "noise_const"):
                module.strength.fill_(0.5)
    ws = G.mapping(torch.randn(4, G.z_dim))
    torch.manual_seed(3)
    whole = G.synthesis(ws)
    after_whole = torch.get_rng_state()
    for rank in range(2):
        dist = Distributed(world_size=2, rank=rank)
        G_rank = copy.deepcopy(G)
        noise = ShardedNoise(G_rank, dist)
        shard = dist.shard(4, group=2)
        torch.manual_seed(3)
        with noise.batch(shard):
            part = G_rank.synthesis(ws[shard.indices])
        torch.testing.assert_close(part, whole[shard.indices], rtol=0, atol=1e-5)  # noise is ~0.5
        assert torch.equal(torch.get_rng_state(), after_whole)  # in step with one process


def test_one_process_collectives_are_no_ops():
    dist = Distributed()
    grad = torch.ones(3)
    dist.mean_([grad])
    assert torch.equal(grad, torch.ones(3)) and not dist.active and dist.is_main
    rows = dist.gather_batches(lambda start, stop: torch.arange(start, stop).numpy(), 10, 4, dtype="int64")
    assert rows.tolist() == list(range(10))


# Runs ------------------------------------------------------------------------------------------

def train_args(png_folder, out, cache, kimg, *extra):
    return ["--config", "E", "--data", str(png_folder), "--kimg", str(kimg), "--out", str(out),
            "--resolution", "16", "--width-multiplier", "0.03125", "--batch-size", "4", "--impl", "ref",
            "--set", "mapping_layers=2", "--set", "z_dim=32", "--set", "w_dim=32",
            "--set", "mapping_width=32", "--set", "ema_kimg=0.01", "--set", "mbstd_group=2",
            "--tick-kimg", "0.016", "--snapshot-kimg", str(HALF_KIMG), "--fig8-samples", "8",
            "--deterministic", "--threads", "1", "--device", "cpu", "--cache-dir", str(cache),
            "--progress", "none", "--seed", "7", *extra]


def train_in_process(args) -> None:
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    assert train_cli.run(parser.parse_args(args)) == 0


def start_torchrun(args, processes: int = 2) -> subprocess.Popen:
    """`torchrun --standalone --nproc_per_node=<processes> -m harness train <args>`, started."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "harness", "train", *args]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "CI": "1"}
    return subprocess.Popen(command, env=environment, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-4000:]


def read_stats(run_dir):
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def assert_same_losses(stats, reference):
    """Tick means agree to float rounding: a rank's batch of 2 sums in another order than a batch of 4
    (about 1e-7 relative), which R1's second derivative and cancelling means (scores) amplify to 1e-5."""
    assert [row["images_shown"] for row in stats] == [row["images_shown"] for row in reference]
    for row, expected in zip(stats, reference, strict=True):
        for key in LOSS_KEYS:
            if expected[key] is None:
                assert row[key] is None, key
            else:
                assert row[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), (row["tick"], key)


def assert_same_state(state, reference):
    for name in ("G", "G_ema", "D"):
        assert state[name].keys() == reference[name].keys()
        for key in reference[name]:
            torch.testing.assert_close(state[name][key], reference[name][key], rtol=1e-5, atol=1e-5,
                                       msg=lambda m, key=key, name=name: f"{name}.{key}: {m}")
    torch.testing.assert_close(state["pl_mean"], reference["pl_mean"], rtol=1e-5, atol=1e-6)
    assert (state["images_shown"], state["step"]) == (reference["images_shown"], reference["step"])
    for stream, value in reference["rng"]["generators"].items():  # every stream drew the same numbers
        assert torch.equal(state["rng"]["generators"][stream], value), stream
    assert torch.equal(state["rng"]["torch_cpu"], reference["rng"]["torch_cpu"])


@pytest.mark.slow
def test_two_processes_train_like_one_and_their_checkpoints_resume_on_any_world_size(tmp_path, png_folder):
    cache = tmp_path / "cache"
    reference_dir, two_dir, mixed_dir = tmp_path / "one", tmp_path / "two", tmp_path / "two-then-one"
    two_processes = start_torchrun(train_args(png_folder, two_dir, cache, HALF_KIMG))
    train_in_process(train_args(png_folder, reference_dir, cache, FULL_KIMG))  # meanwhile
    finish(two_processes)
    shutil.copytree(two_dir, mixed_dir)

    two_processes = start_torchrun(train_args(png_folder, two_dir, cache, FULL_KIMG, "--resume"))
    train_in_process(train_args(png_folder, mixed_dir, cache, FULL_KIMG, "--resume"))  # 2, then 1 process
    finish(two_processes)  # 2 processes throughout

    reference = torch.load(reference_dir / "checkpoint.pt", weights_only=True)
    reference_stats = read_stats(reference_dir)
    for run_dir in (two_dir, mixed_dir):
        assert_same_losses(read_stats(run_dir), reference_stats)
        assert_same_state(torch.load(run_dir / "checkpoint.pt", weights_only=True), reference)
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["done"] and summary["images_shown"] == 96 and summary["resumes"] == 1
    assert json.loads((two_dir / "summary.json").read_text())["world_size"] == 2
    assert json.loads((mixed_dir / "summary.json").read_text())["world_size"] == 1
    snapshot = variants.load_network(two_dir / "snapshots" / "000096")
    assert isinstance(snapshot, torch.nn.Module)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failing_rank_worker(rank, port, args, failure, report):
    """One of 2 ranks; at its 4th step (step index 3) rank 1 raises (failure 'raise') or stalls for a
    minute ('hang'). Reports (rank, error or None, seconds in train)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    from harness.train import loop

    if rank == 1:
        original_step = loop.Trainer.step

        def step(self, timer):
            if self.step_index == 3:
                if failure == "hang":
                    time.sleep(60)
                raise RuntimeError("injected failure on rank 1")
            return original_step(self, timer)

        loop.Trainer.step = step
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    options = train_cli.options_from_args(parser.parse_args(args))
    started = time.monotonic()
    try:
        loop.train(options)
        report.put((rank, None, time.monotonic() - started))
    except Exception as error:  # the test inspects what each rank saw
        report.put((rank, f"{type(error).__name__}: {error}", time.monotonic() - started))


@pytest.mark.slow
@pytest.mark.parametrize("failure, timeout_min", [("raise", 0.5), ("hang", 0.1)])
def test_a_rank_that_dies_or_stalls_stops_the_other_with_a_clear_error(tmp_path, png_folder, failure,
                                                                        timeout_min):
    args = train_args(png_folder, tmp_path / "run", tmp_path / "cache", FULL_KIMG,
                      "--dist-timeout-min", str(timeout_min))
    context = multiprocessing.get_context("spawn")
    report, port = context.Queue(), free_port()
    processes = [context.Process(target=failing_rank_worker, args=(rank, port, args, failure, report))
                 for rank in range(2)]
    for process in processes:
        process.start()
    outcomes = {}
    try:
        while 0 not in outcomes or (failure == "raise" and 1 not in outcomes):
            rank, error, seconds = report.get(timeout=120)
            outcomes[rank] = (error, seconds)
    finally:
        for process in processes:  # both reported (or stall on purpose): no need to wait for their exit
            process.kill()
            process.join()
    error, seconds = outcomes[0]
    assert error.startswith(RankFailureError.__name__), error
    assert "rank 0 of 2" in error and "another rank stopped or did not answer" in error
    assert seconds < timeout_min * 60 + 20  # startup plus at most the timeout: no hang
    if failure == "raise":
        assert "injected failure on rank 1" in outcomes[1][0]
    assert not (tmp_path / "run" / "summary.json").exists()
