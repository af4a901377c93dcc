"""Weights files: local paths, hashed downloads into the cache (file:// URLs), clear errors."""

import hashlib

import pytest
import torch

from latentscape.nets.weights import WeightsError, WeightsSpec, load_state_dict, resolve_weights


def _file(tmp_path, name="w.pth"):
    path = tmp_path / name
    torch.save({"w": torch.arange(4.0)}, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), hashlib.md5(path.read_bytes()).hexdigest()


def test_download_into_cache_and_reuse(tmp_path, monkeypatch):
    src, sha, md5 = _file(tmp_path)
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path / "cache"))
    spec = WeightsSpec("toy", src.as_uri(), sha256_prefix=sha[:8], md5=md5, cache_name="toy-w.pth")
    got = resolve_weights(spec)
    assert got == tmp_path / "cache" / "weights" / "toy-w.pth"
    assert got.read_bytes() == src.read_bytes()
    src.unlink()  # now only the cached copy exists
    assert resolve_weights(spec) == got
    assert torch.equal(load_state_dict(got)["w"], torch.arange(4.0))


def test_bad_hash_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    src, sha, _ = _file(tmp_path)
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path / "cache"))
    spec = WeightsSpec("toy", src.as_uri(), sha256_prefix="00000000")
    with pytest.raises(WeightsError, match="SHA-256"):
        resolve_weights(spec)
    assert not list((tmp_path / "cache" / "weights").iterdir())
    with pytest.raises(WeightsError, match="SHA-256"):
        resolve_weights(spec, path=src)


def test_offline_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path))
    spec = WeightsSpec("toy", "http://127.0.0.1:9/toy.pth", sha256_prefix="12345678")
    with pytest.raises(WeightsError, match="cannot download toy weights"):
        resolve_weights(spec)
    with pytest.raises(WeightsError, match="not in the cache"):
        resolve_weights(spec, download=False)
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights(spec, path=tmp_path / "missing.pth")


def test_load_state_dict_refuses_code_and_non_tensors(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "f": print}, path)
    with pytest.raises(WeightsError):
        load_state_dict(path)
    path2 = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path2)
    with pytest.raises(WeightsError, match="state dict"):
        load_state_dict(path2)
