"""One MNIST training epoch of an MLP: in-memory BatchLoader vs per-item Dataset + DataLoader.

Both sides train the same 784-64-10 MLP (same initial weights, Adam, batch 128) for one epoch over
the MNIST training split, in the same process:

- in-memory: `latentscape.data.loader.BatchLoader` (uint8 tensor on the device, one index
  permutation per epoch, one gather + float conversion per batch);
- DataLoader: a per-item `torch.utils.data.Dataset` that converts each uint8 HxW numpy image to a
  float CHW tensor / 255 (what torchvision's ToTensor does) and `DataLoader(batch_size=128,
  shuffle=True, num_workers=0)` with default collation.

The two are run alternately `--repeats` times and the best epoch time of each is kept (the machine
is shared, so the best time is the least disturbed). Prints a table and writes JSON with
`inmemory_images_per_s`, `dataloader_images_per_s`, `ratio` (+ `details`).

    nice -n 10 .venv/bin/python bench/loader.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from _common import default_data_dir, write_results
from torch import nn

from latentscape.config import DataConfig
from latentscape.data.loader import BatchLoader
from latentscape.data.registry import load_split
from latentscape.data.types import ImageDataset


class PerItemMNIST(torch.utils.data.Dataset):
    """The usual per-item dataset: numpy uint8 (N, H, W) images, converted one at a time."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).unsqueeze(0).float().div(255.0)  # ToTensor: (1, H, W)
        return x, int(self.labels[i])


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def train_epoch(model: nn.Module, batches, device: torch.device) -> tuple[float, int, float]:
    """One epoch of Adam; returns (seconds, images seen, last loss)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, loss = 0, torch.tensor(0.0)
    start = time.perf_counter()
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, seen, loss.item()


def run(data: ImageDataset, batch_size: int, repeats: int, device: torch.device, seed: int) -> dict:
    init = make_model(seed).to(device)
    numpy_images = data.images[:, 0].numpy()  # (N, H, W) uint8, as a per-item dataset holds them
    numpy_labels = data.labels.numpy()
    best = {"inmemory": float("inf"), "dataloader": float("inf")}
    for r in range(repeats):
        loader = BatchLoader(data, batch_size, shuffle=True, seed=seed, device=device)
        loader.set_epoch(r)
        secs, n_mem, _ = train_epoch(copy.deepcopy(init), ((b.x, b.y) for b in loader), device)
        best["inmemory"] = min(best["inmemory"], secs)
        torch.manual_seed(seed + r)
        dl = torch.utils.data.DataLoader(PerItemMNIST(numpy_images, numpy_labels),
                                         batch_size=batch_size, shuffle=True, num_workers=0)
        secs, n_dl, _ = train_epoch(copy.deepcopy(init), dl, device)
        best["dataloader"] = min(best["dataloader"], secs)
        assert n_mem == n_dl == len(data)
    # data only (no model): how fast each side delivers float batches
    start = time.perf_counter()
    for b in BatchLoader(data, batch_size, shuffle=True, seed=seed, device=device):
        pass
    mem_data_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in torch.utils.data.DataLoader(PerItemMNIST(numpy_images, numpy_labels),
                                         batch_size=batch_size, shuffle=True, num_workers=0):
        pass
    dl_data_s = time.perf_counter() - start
    mem, dl_rate = len(data) / best["inmemory"], len(data) / best["dataloader"]
    return {
        "inmemory_images_per_s": mem,
        "dataloader_images_per_s": dl_rate,
        "ratio": mem / dl_rate,
        "details": {
            "images_per_epoch": len(data), "batch_size": batch_size, "repeats": repeats,
            "inmemory_epoch_s": best["inmemory"], "dataloader_epoch_s": best["dataloader"],
            "data_only_inmemory_images_per_s": len(data) / mem_data_s,
            "data_only_dataloader_images_per_s": len(data) / dl_data_s,
            "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "loader.json")
    parser.add_argument("--data-dir", help="dataset root (default $LATENTSCAPE_DATA, else ../shared/data)")
    parser.add_argument("--dataset", default="mnist", help="an IDX-style 28x28 dataset (mnist, fashion-mnist)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs; best time of each kept")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (machine is shared)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or default_data_dir()
    data = load_split(DataConfig(name=args.dataset, data_dir=data_dir), "train")
    result = run(data, args.batch_size, args.repeats, torch.device(args.device), args.seed)
    d = result["details"]
    print(f"one {args.dataset} training epoch ({d['images_per_epoch']} images, MLP 784-64-10, Adam, "
          f"batch {args.batch_size}, {d['threads']} thread(s), {d['device']}, best of {args.repeats})")
    print(f"{'loader':<34} {'epoch s':>8} {'images/s':>10}")
    print(f"{'in-memory BatchLoader':<34} {d['inmemory_epoch_s']:>8.2f} {result['inmemory_images_per_s']:>10.0f}")
    print(f"{'per-item Dataset + DataLoader':<34} {d['dataloader_epoch_s']:>8.2f} "
          f"{result['dataloader_images_per_s']:>10.0f}")
    print(f"ratio (in-memory / DataLoader): {result['ratio']:.1f}x")
    print(f"data only, no model: {d['data_only_inmemory_images_per_s']:.0f} vs "
          f"{d['data_only_dataloader_images_per_s']:.0f} images/s")
    write_results(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
