"""Legacy ASCII VTK export of a metric grid (ParaView, VisIt and any VTK reader open it).

The grid is written as a STRUCTURED_GRID (VTK file formats, "Simple Legacy Formats"): point
(i, j) sits at (x_i, y_j, z) with z the chosen metric (so the file is the 3-D surface itself, like
Li et al.'s `h52vtp`), and every metric is attached as POINT_DATA SCALARS. A 1-D surface is a
grid of dimensions (nx, 1, 1). `read_structured_grid` parses the files back (used by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from latentscape.errors import DataError
from latentscape.io import atomic_write_text


def _field_name(name: str) -> str:
    """VTK array names cannot hold whitespace."""
    return re.sub(r"\s+", "_", name) or "value"


def _fmt(v: float) -> str:
    return repr(float(v)) if np.isfinite(v) else "nan"


def write_structured_grid(
    path: str | Path,
    xs: np.ndarray,
    ys: np.ndarray | None,
    fields: Mapping[str, np.ndarray],
    z_field: str | None = None,
    title: str = "latentscape surface",
) -> Path:
    """Write `fields` ((ny, nx) or (nx,) arrays) on the grid as a legacy ASCII .vtk file.

    Args:
        path: destination (.vtk).
        xs: (nx,) coordinates along the first direction.
        ys: (ny,) coordinates along the second, or None (1-D).
        fields: name -> values, row j at ys[j], column i at xs[i].
        z_field: the field used as the z coordinate of the points (default: the first; NaN/inf
            points get z = 0 so the geometry stays valid while the scalar keeps the NaN).
        title: header line (one line, at most 255 characters).
    """
    xs = np.asarray(xs, dtype=np.float64)
    ny = 1 if ys is None else len(ys)
    yv = np.zeros(1) if ys is None else np.asarray(ys, dtype=np.float64)
    if not fields:
        raise ValueError("no fields to write")
    grids = {k: np.asarray(v, dtype=np.float64).reshape(ny, len(xs)) for k, v in fields.items()}  # (ny, nx)
    z = grids[z_field or next(iter(grids))]
    z = np.where(np.isfinite(z), z, 0.0)
    n = len(xs) * ny
    lines = ["# vtk DataFile Version 3.0", title.replace("\n", " ")[:255], "ASCII", "DATASET STRUCTURED_GRID"]
    lines.append(f"DIMENSIONS {len(xs)} {ny} 1")
    lines.append(f"POINTS {n} double")
    for j in range(ny):  # x varies fastest (VTK point order)
        for i in range(len(xs)):
            lines.append(f"{_fmt(xs[i])} {_fmt(yv[j])} {_fmt(z[j, i])}")
    lines.append(f"POINT_DATA {n}")
    for name, g in grids.items():
        lines.append(f"SCALARS {_field_name(name)} double 1")
        lines.append("LOOKUP_TABLE default")
        lines.extend(_fmt(v) for v in g.reshape(-1))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_structured_grid(path: str | Path) -> tuple[tuple[int, int, int], np.ndarray, dict[str, np.ndarray]]:
    """Parse a legacy ASCII STRUCTURED_GRID: ((nx, ny, nz), points (n, 3), name -> (n,) scalars).

    Raises:
        DataError: the file is not such a VTK file.
    """
    p = Path(path)
    try:
        tokens = p.read_text().split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read VTK file ({exc.__class__.__name__})") from None
    if len(tokens) < 6 or not tokens[0].startswith("# vtk DataFile") or tokens[2].strip() != "ASCII" or tokens[3].strip() != "DATASET STRUCTURED_GRID":
        raise DataError(f"{p}: not a legacy ASCII VTK STRUCTURED_GRID file")
    words = " ".join(tokens[4:]).split()
    try:
        assert words[0] == "DIMENSIONS"
        dims = (int(words[1]), int(words[2]), int(words[3]))
        assert words[4] == "POINTS"
        n = int(words[5])
        pos = 7
        pts = np.array([float(v) for v in words[pos : pos + 3 * n]]).reshape(n, 3)  # (n, 3)
        pos += 3 * n
        fields: dict[str, np.ndarray] = {}
        if pos < len(words):
            assert words[pos] == "POINT_DATA" and int(words[pos + 1]) == n
            pos += 2
            while pos < len(words):
                assert words[pos] == "SCALARS" and words[pos + 4] == "LOOKUP_TABLE"
                name = words[pos + 1]
                pos += 6
                fields[name] = np.array([float(v) for v in words[pos : pos + n]])
                pos += n
    except (AssertionError, IndexError, ValueError):
        raise DataError(f"{p}: malformed VTK STRUCTURED_GRID file") from None
    if dims[0] * dims[1] * dims[2] != n or any(f.size != n for f in fields.values()):
        raise DataError(f"{p}: VTK dimensions do not match the number of points")
    return dims, pts, fields
