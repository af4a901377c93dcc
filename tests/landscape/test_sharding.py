"""Chunks of points dealt out to two gloo ranks: every rank ends with the single-process values."""

import socket

import pytest
import torch.multiprocessing as mp

from landscape_nets import sharding_setup, sharding_worker
from latentscape.landscape.core.metrics import contract_task
from latentscape.landscape.core.points import evaluate_points, evaluator_for


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_ranks_share_chunks_and_agree_with_one_process_exactly():
    model, pts, data = sharding_setup()
    task = contract_task(model)
    ref = evaluate_points(evaluator_for(model, task, batch_size=8), task, pts, data, chunk=2).values["test"]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=sharding_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    try:
        got = [queue.get(timeout=90) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    shares = {rank: chunks for rank, chunks, _, _ in got}
    assert shares == {0: [[0, 1], [4]], 1: [[2, 3]]}  # chunk r * world + rank in round r
    for _, _, done, res in got:
        assert all(done)
        assert res == {m: v.tolist() for m, v in ref.items()}  # bit for bit: a point's value depends on its chunk only
