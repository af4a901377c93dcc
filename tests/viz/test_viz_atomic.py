"""Atomic writes: no torn or temp files left behind, ordinary permissions."""

import os
import stat

import pytest

from latentscape.viz.atomic import atomic_write, atomic_write_text


def test_atomic_write_replaces_and_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "a" / "report.html"
    atomic_write_text(path, "old")

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["report.html"]  # temp file removed
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as open() would create it
