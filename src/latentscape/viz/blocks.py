"""What a page shows, as plain data: sections of typed blocks that viz/templates/ render.

The report, compare and analysis modules build these from run folders; `blocks.html` turns each
kind of block into HTML (escaping every string). Keeping the pages' content as data makes it
testable without parsing HTML and keeps markup in one place.

Pictures enter a page only through `picture` (which reads the file into a `data:` URI with
`html_parts.data_uri`), so there is a single point where files are embedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from latentscape.viz.html_parts import data_uri
from latentscape.viz.inside import OutsideFolder


@dataclass(frozen=True)
class Note:
    """A paragraph: `muted` for an explanation (grey), else an italic note (a caveat)."""

    kind: ClassVar[str] = "note"
    text: str
    muted: bool = False


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    kind: ClassVar[str] = "heading"
    text: str


@dataclass(frozen=True)
class Table:
    """Rows of label cells then value cells (numbers, formatted; None shown as an en dash).

    Args:
        label_head: header of the label columns (row headers).
        value_head: header of the value columns.
        rows: (labels, values) per row.
        key_values: a two-column key/value table (no header, values wrap and stay left-aligned).
    """

    kind: ClassVar[str] = "table"
    label_head: tuple[str, ...]
    value_head: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...]
    key_values: bool = False


def key_values(pairs: Sequence[tuple[str, Any]]) -> Table:
    """A key/value table of (name, value) pairs."""
    return Table((), (), tuple(((str(k),), (v,)) for k, v in pairs), key_values=True)


def table(label_head: Sequence[str], value_head: Sequence[str], rows: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> Table:
    """A Table from lists (labels and values of each row)."""
    return Table(tuple(label_head), tuple(value_head), tuple((tuple(str(x) for x in lab), tuple(val)) for lab, val in rows))


@dataclass(frozen=True)
class Figure:
    """An embedded picture with its caption; `style`: "" or "gif"; `wide` spans a gallery row."""

    kind: ClassVar[str] = "figure"
    src: str
    caption: str
    pixel: bool = False
    style: str = ""
    wide: bool = False


def picture(path: Path, caption: str, root: str | Path, style: str = "", wide: bool = False) -> Figure | Note:
    """A Figure holding `path` as a data URI (the page must not link to anything); small
    pictures (image grids, not plots) are enlarged with crisp pixels.

    Only a regular file inside `root` (the folder the page shows) is embedded: for anything else
    (a link leading out of it, a FIFO) the page gets a Note naming the picture instead.
    """
    try:
        src, small = data_uri(path, root)
    except OutsideFolder as exc:
        return Note(f"{caption}: not embedded ({exc})")
    return Figure(src=src, caption=caption, pixel=small, style=style, wide=wide)


@dataclass(frozen=True)
class Gallery:
    """Figures in a grid; `style`: "" (pictures), "plots" / "curves" (wider cells), "side" (one per run)."""

    kind: ClassVar[str] = "gallery"
    figures: tuple[Figure | Note, ...]
    style: str = ""


@dataclass(frozen=True)
class Strip:
    """An image-dynamics strip with a label over each of its equal columns."""

    kind: ClassVar[str] = "strip"
    src: str
    labels: tuple[str, ...]
    caption: str


@dataclass(frozen=True)
class Links:
    """A list of links: (href relative to the page, text, detail after the link)."""

    kind: ClassVar[str] = "links"
    items: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Protocol:
    """The protocol behind a set of numbers on one line (split, n, seed, weights, ...)."""

    kind: ClassVar[str] = "protocol"
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Source:
    """A text file shown folded (e.g. config.yaml)."""

    kind: ClassVar[str] = "source"
    name: str
    text: str


Block = Note | Heading | Table | Figure | Gallery | Strip | Links | Protocol | Source


@dataclass(frozen=True)
class Section:
    """A section of a page: anchor id, heading and its blocks."""

    id: str
    heading: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.blocks)


def section(id: str, heading: str, blocks: Sequence[Block]) -> Section:  # noqa: A002 (an HTML id)
    return Section(id, heading, tuple(b for b in blocks if b is not None))
