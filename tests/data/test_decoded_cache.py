"""The on-disk decoded-data and MD5 caches (start-up time): reused across processes, invalidated
by a changed file, rebuilt when unreadable, and never a way to run code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from latentscape.data import files
from latentscape.data.files import cached_md5, cached_parse, clear_cache, processed_cache_dir


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path / "cache"))
    clear_cache()
    yield
    clear_cache()


def _source(tmp_path, content=b"abc"):
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    return path


def test_a_new_process_reuses_the_decoded_tensors_without_parsing(tmp_path):
    src = _source(tmp_path)
    calls = []

    def parse():
        calls.append(1)
        return torch.arange(6, dtype=torch.uint8).view(2, 3), torch.tensor([0, 1])

    first = cached_parse([src], "toy", parse)
    clear_cache()  # what a new process sees: nothing in memory
    second = cached_parse([src], "toy", parse)
    assert len(calls) == 1
    for a, b in zip(first, second):
        assert torch.equal(a, b) and a.dtype == b.dtype
    assert list(processed_cache_dir().glob("decoded-toy-*.pt"))


def test_a_changed_file_is_parsed_again(tmp_path):
    src = _source(tmp_path)
    cached_parse([src], "toy", lambda: (torch.zeros(2),))
    clear_cache()
    src.write_bytes(b"abcd")  # another size: another key
    value = cached_parse([src], "toy", lambda: (torch.ones(3),))
    assert torch.equal(value[0], torch.ones(3))


def test_an_unreadable_or_hostile_cache_file_is_rebuilt_not_run(tmp_path):
    src = _source(tmp_path)
    cached_parse([src], "toy", lambda: (torch.zeros(2),))
    (cache_file,) = processed_cache_dir().glob("decoded-toy-*.pt")

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    for payload in (b"\x00garbage", pickle.dumps(Boom()), cache_file.read_bytes()[:20]):
        cache_file.write_bytes(payload)
        clear_cache()
        value = cached_parse([src], "toy", lambda: (torch.full((2,), 7.0),))
        assert torch.equal(value[0], torch.full((2,), 7.0))
        assert not (tmp_path / "pwned").exists()


def test_results_that_are_not_tensors_stay_in_memory_only(tmp_path):
    src = _source(tmp_path)
    assert cached_parse([src], "names", lambda: ["a", "b"]) == ["a", "b"]
    assert not list(processed_cache_dir().glob("decoded-names-*"))


def test_md5_digests_are_reused_across_processes(tmp_path, monkeypatch):
    src = _source(tmp_path, b"hello")
    digest = cached_md5(src)
    clear_cache()
    monkeypatch.setattr(files, "md5_file", lambda path: pytest.fail("hashed again"))
    assert cached_md5(src) == digest == "5d41402abc4b2a76b9719d911017c592"
