"""Points sharded across two gloo ranks give the single-process results on every rank."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from landscape_nets import sharding_setup, sharding_worker
from latentscape.landscape.core.evaluate import PointEvaluator
from latentscape.landscape.core.metrics import combined, resolve_metrics


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_ranks_share_points_and_agree_with_one_process():
    model, pts, data = sharding_setup()
    ref = PointEvaluator(model, combined(resolve_metrics(model)), batch_size=8).evaluate(pts, data)["test"]
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
    shares = {rank: mine for rank, mine, _, _ in got}
    assert shares == {0: [0, 2, 4], 1: [1, 3]}
    for _, _, world, res in got:
        assert world == 2
        for m, v in res.items():
            torch.testing.assert_close(torch.tensor(v, dtype=torch.float64), torch.tensor(ref[m], dtype=torch.float64), atol=1e-6, rtol=1e-6)
