"""Animated GIFs: frame count, size, loop and inputs as list or tensor."""

import pytest
import torch
from PIL import Image

from latentscape.viz.gif import save_gif


def _frames(t: int, c: int) -> torch.Tensor:
    # distinct frames (Pillow merges identical consecutive frames)
    return torch.linspace(0, 1, t).view(t, 1, 1, 1).expand(t, c, 6, 5).clone()  # (T, C, H, W)


@pytest.mark.parametrize("channels", [1, 3])
def test_gif_frame_count_size_and_duration(tmp_path, channels):
    path = save_gif(_frames(7, channels), tmp_path / "sub" / "anim.gif", duration_ms=80, upscale=3)
    with Image.open(path) as img:
        assert img.format == "GIF"
        assert img.n_frames == 7
        assert img.size == (5 * 3, 6 * 3)
        assert img.info.get("loop") == 0
        assert img.info.get("duration") == 80
        img.seek(6)
        assert img.convert("L").getpixel((0, 0)) == 255  # last frame is white


def test_gif_from_list_equals_from_tensor(tmp_path):
    frames = _frames(4, 3)
    a = save_gif(frames, tmp_path / "a.gif")
    b = save_gif(list(frames), tmp_path / "b.gif")
    assert a.read_bytes() == b.read_bytes()


def test_gif_rejects_empty_and_mixed_sizes(tmp_path):
    with pytest.raises(ValueError):
        save_gif([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="same shape"):
        save_gif([torch.zeros(1, 4, 4), torch.zeros(1, 5, 4)], tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()
