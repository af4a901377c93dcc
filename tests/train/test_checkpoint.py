import os
import pickle

import pytest
import torch

from latentscape.errors import CheckpointError
from latentscape.rundir.checkpoint import atomic_save, load_checkpoint, load_state_into, load_weights, save_weights


def test_weights_round_trip(tmp_path):
    net = torch.nn.Linear(3, 2)
    save_weights(net, tmp_path / "w.pt")
    state = load_weights(tmp_path / "w.pt")
    assert torch.equal(state["weight"], net.weight.detach())


def test_truncated_file_is_a_clear_error(tmp_path):
    save_weights(torch.nn.Linear(30, 20), tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="is truncated"):
        load_checkpoint(tmp_path / "t.pt")


def test_foreign_file_is_a_clear_error(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a latentscape checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pt")


class _Evil:
    """Unpickling this runs `touch marker`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_code_in_a_checkpoint_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "latentscape.weights/1", "x": _Evil(marker)}, f)
    torch.save({"format": "latentscape.weights/1", "x": _Evil(marker)}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(CheckpointError, match="refused|not a readable"):
            load_checkpoint(tmp_path / name)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Evil(marker)))  # the payload is real: plain unpickling runs it
    assert marker.exists()


def test_atomic_save_leaves_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.pt"
    atomic_save({"format": "x", "v": 1}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_save({"format": "x", "v": Unpicklable()}, target)
    assert load_checkpoint(target)["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


def test_mismatched_weights_name_the_parameter(tmp_path):
    with pytest.raises(CheckpointError, match="'weight' has shape"):
        load_state_into(torch.nn.Linear(3, 2), torch.nn.Linear(4, 2).state_dict(), "w.pt")
