"""Metrics under 2 gloo processes: each rank computes every other batch, the gathered rows and hence
FID and PPL equal one process's exactly, the real-feature cache is decided by rank 0, and only
rank 0 writes metrics.jsonl (one row per key, replaced on recompute)."""

import json
import multiprocessing
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.distributed import process_group
from harness.metrics import MetricOptions
from harness.metrics.run_dir import compute
from tests.harness.metrics.conftest import FakeDataset, TinyGenerator

METRICS = ("fid", "ppl")
SETTINGS = dict(num_samples=20, batch_size=8, features="random", device="cpu")  # batches of 8, 8, 4


def load_generator(path):
    return TinyGenerator(seed=int(Path(path).name))


def open_dataset(source, resolution):
    return FakeDataset(resolution=resolution)  # 40 images: real batches 8, 8, 8, 8, 8


def metrics_worker(rank, ports, run_dir, cache_dir, report):
    """One of 2 ranks: compute (joining the group itself; the real features miss the cache), then in a
    group of its own gather numbered rows and compute again (the cache hits); report what it got."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(ports[0]), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    run = lambda recompute: [row["value"] for row in compute(
        run_dir, METRICS, MetricOptions(cache_dir=cache_dir, **SETTINGS), open_dataset=open_dataset,
        load_generator=load_generator, recompute=recompute)]
    try:
        values = [run(False)]
        os.environ["MASTER_PORT"] = str(ports[1])  # a new group on a new port: no stale connections
        with process_group(torch.device("cpu")) as dist:
            order = dist.gather_batches(lambda start, stop: np.arange(start, stop), 21, 4, dtype=np.int64)
            values.append(run(True))  # the rows are stored: recompute, replacing them
        report.put((rank, values, order.tolist(), None))
    except Exception as error:  # reported to the test, which fails with it
        report.put((rank, None, None, f"{type(error).__name__}: {error}"))


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports (all probed at once, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@pytest.mark.slow
def test_two_ranks_gather_exactly_the_single_process_features(tmp_path, fake_run):
    single_run = tmp_path / "single"
    shutil.copytree(fake_run, single_run)
    options = MetricOptions(cache_dir=tmp_path / "single-cache", **SETTINGS)
    expected = [row["value"] for row in compute(single_run, METRICS, options, load_generator=load_generator,
                                                open_dataset=open_dataset)]

    context = multiprocessing.get_context("spawn")
    report, ports = context.Queue(), free_ports(2)
    cache = tmp_path / "cache"
    processes = [context.Process(target=metrics_worker, args=(rank, ports, fake_run, cache, report))
                 for rank in range(2)]
    for process in processes:
        process.start()
    outcomes = {}
    try:
        for _ in processes:
            rank, values, order, error = report.get(timeout=120)
            outcomes[rank] = (values, order, error)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    for rank, (values, order, error) in outcomes.items():
        assert error is None, f"rank {rank}: {error}"
        assert order == list(range(21)), rank  # batch b from rank b % 2, put back in order
        assert values == [expected, expected], rank  # cache miss (computed by both), then hit (broadcast)
    rows = [json.loads(line) for line in (fake_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["metric"] for row in rows] == list(METRICS)  # rank 0 alone wrote, one row per key
    assert all(row["num_samples"] == 20 and row.get("real_samples") in (20, None) for row in rows)
