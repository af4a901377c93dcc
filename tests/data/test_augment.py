"""On-device crop + flip augmentation: what it draws, how it is seeded, where it is (not) used."""

from __future__ import annotations

import torch

from latentscape.config import DataConfig
from latentscape.data.augment import CropFlip, augmentation, batch_seed
from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.types import ImageDataset


def _images(n: int = 64, c: int = 3, side: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(1, 256, (n, c, side, side), generator=g, dtype=torch.uint8)  # no zeros


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _windows(img: torch.Tensor, p: int, flip: bool) -> list[torch.Tensor]:
    """Every crop of the zero-padded image (and of its mirror image when `flip`)."""
    c, h, w = img.shape
    sources = [img, img.flip(-1)] if flip else [img]
    out = []
    for src in sources:
        padded = torch.nn.functional.pad(src, (p, p, p, p))
        out += [padded[:, y : y + h, x : x + w] for y in range(2 * p + 1) for x in range(2 * p + 1)]
    return out


def test_each_output_is_a_window_of_the_padded_image_or_its_mirror():
    x = _images(32)
    out = CropFlip(padding=2)(x, _gen())
    assert out.shape == x.shape and out.dtype == torch.uint8
    for img, aug in zip(x, out):
        assert any(torch.equal(aug, w) for w in _windows(img, 2, True))


def test_all_offsets_and_both_orientations_occur():
    x = _images(1, 1, 4).expand(4000, 1, 4, 4).clone()
    out = CropFlip(padding=1)(x, _gen())
    windows = _windows(x[0], 1, True)
    seen = {next(i for i, w in enumerate(windows) if torch.equal(o, w)) for o in out}
    assert seen == set(range(18))  # 9 offsets x 2 orientations, all distinct for this image


def test_padding_zero_without_flip_is_the_identity_and_flip_only_mirrors():
    x = _images(16)
    assert torch.equal(CropFlip(padding=0, flip=False)(x, _gen()), x)
    out = CropFlip(padding=0, flip=True)(x, _gen())
    mirrored = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    assert all(m or torch.equal(o, i) for m, o, i in zip(mirrored, out, x)) and 0 < sum(mirrored) < len(x)


def test_channels_move_together_and_the_border_is_zero():
    x = _images(200)
    out = CropFlip(padding=4, flip=False)(x, _gen())
    zero = out == 0  # the source has no zeros: zeros are padding
    assert torch.equal(zero[:, 0], zero[:, 1]) and torch.equal(zero[:, 0], zero[:, 2])
    assert zero.any()


def test_same_generator_seed_gives_the_same_batch():
    x = _images()
    aug = CropFlip()
    assert torch.equal(aug(x, _gen(7)), aug(x, _gen(7)))
    assert not torch.equal(aug(x, _gen(7)), aug(x, _gen(8)))


def test_batch_seed_depends_on_every_part():
    seeds = {batch_seed(s, e, b, r) for s in (0, 1) for e in (0, 1) for b in (0, 1) for r in (0, 1)}
    assert len(seeds) == 16 and all(0 <= s < 2**63 for s in seeds)
    assert batch_seed(3, 1, 2) == batch_seed(3, 1, 2)


def test_config_switch():
    assert augmentation(DataConfig()) is None
    assert augmentation(DataConfig(augment=True)) == CropFlip(4, True)
    assert augmentation(DataConfig(augment=True, augment_padding=2, augment_flip=False)) == CropFlip(2, False)


def _dataset() -> ImageDataset:
    return ImageDataset(images=_images(40), labels=torch.arange(40) % 2, name="toy", split="train")


def test_loader_batches_are_seeded_by_epoch_and_batch_so_a_resumed_epoch_matches():
    ds = _dataset()
    loader = BatchLoader(ds, 8, seed=5, augment=CropFlip())
    loader.set_epoch(2)
    full = [b.x for b in loader.batches()]
    resumed = [b.x for b in loader.batches(start_batch=3)]
    assert all(torch.equal(a, b) for a, b in zip(full[3:], resumed))
    loader.set_epoch(3)
    assert not torch.equal(full[0], next(loader.batches()).x)  # a new epoch draws new crops


def test_loader_without_augmentation_and_evaluation_see_the_images_as_they_are():
    ds = _dataset()
    plain = torch.cat([b.x for b in BatchLoader(ds, 8, shuffle=False)])
    assert torch.equal(plain, ds.images.float() / 255)
    assert torch.equal(torch.cat([b.x for b in iterate_in_order(ds, 8)]), plain)
    augmented = torch.cat([b.x for b in BatchLoader(ds, 8, shuffle=False, augment=CropFlip())])
    assert not torch.equal(augmented, plain)
