"""Points sharded across two gloo ranks give the single-process results on every rank."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from landscape_nets import images, mlp, perturbed
from latentscape.landscape.evaluate import PointEvaluator, PointSet, shard
from latentscape.landscape.params import named_params
from latentscape.landscape.path_metrics import combined, resolve_metrics


def _setup():
    a = mlp(0)
    basis = [named_params(a), named_params(mlp(1)), perturbed(a, 2)]
    coeffs = torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5], [0, 1.0, 0], [0.1, 0.1, 0.8]], dtype=torch.float64)
    return a, PointSet(basis, coeffs), {"test": images(24, seed=3)}


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        model, pts, data = _setup()
        mine, r, world = shard(range(len(pts)))
        res = PointEvaluator(model, combined(resolve_metrics(model)), batch_size=8).evaluate(pts, data)
        queue.put((rank, mine, world, {m: v.tolist() for m, v in res["test"].items()}))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_ranks_share_points_and_agree_with_one_process():
    model, pts, data = _setup()
    ref = PointEvaluator(model, combined(resolve_metrics(model)), batch_size=8).evaluate(pts, data)["test"]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    shares = {rank: mine for rank, mine, _, _ in got}
    assert shares == {0: [0, 2, 4], 1: [1, 3]}
    for _, _, world, res in got:
        assert world == 2
        for m, v in res.items():
            torch.testing.assert_close(torch.tensor(v), torch.tensor(ref[m]), atol=1e-6, rtol=1e-6)
