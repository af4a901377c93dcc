"""`write_index(root)`: one page listing every run and analysis under a folder.

Each row (viz/discover.py) shows the kind, a link to the folder's report page, model, dataset,
the one-sentence finding and the key metrics as numeric columns. The table sorts on a header
click and filters by kind / model / dataset / text, in a few lines of inline JavaScript (no
network, no library). Missing or stale report pages are (re)written first, so the links work.
"""

from __future__ import annotations

import time
from collections import Counter
from html import escape
from pathlib import Path
from urllib.parse import quote

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.discover import Entry, discover
from latentscape.viz.html_parts import footer, format_value, page

MAX_METRIC_COLUMNS = 10
GENERATOR_MARK = b"<meta name='generator' content='latentscape report'>"

SCRIPT = """
(function () {
  var table = document.getElementById('entries');
  var tbody = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(td, numeric) {
    if (numeric) { var v = parseFloat(td.getAttribute('data-v')); return isNaN(v) ? null : v; }
    var t = td.textContent.trim().toLowerCase(); return t === '' ? null : t;
  }
  function sortBy(i) {
    var th = heads[i], numeric = th.classList.contains('num');
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[i], numeric), y = key(b.cells[i], numeric);
      if (x === null || y === null) { return (x === null) - (y === null); }  // blanks last
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  heads.forEach(function (th, i) {
    th.addEventListener('click', function () { sortBy(i); });
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(i); } });
  });
  var filters = Array.prototype.slice.call(document.querySelectorAll('[data-filter]'));
  var count = document.getElementById('shown');
  function apply() {
    var n = 0, text = document.getElementById('f-text').value.trim().toLowerCase();
    Array.prototype.forEach.call(tbody.rows, function (row) {
      var ok = filters.every(function (f) { return f.value === '' || row.getAttribute('data-' + f.getAttribute('data-filter')) === f.value; });
      ok = ok && (text === '' || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok; if (ok) { n += 1; }
    });
    count.textContent = n + ' of ' + tbody.rows.length + ' shown';
  }
  filters.forEach(function (f) { f.addEventListener('change', apply); });
  document.getElementById('f-text').addEventListener('input', apply);
  apply();
})();
"""


def refresh_pages(entries: list[Entry]) -> dict[Path, str]:
    """Write report.html for every folder whose page is missing or older than its files.

    A page that some other tool wrote (no latentscape generator mark) is never overwritten.

    Returns:
        folder -> error text for folders whose page could not be written.
    """
    from latentscape.viz.report import write_report

    errors: dict[Path, str] = {}
    for folder in dict.fromkeys(e.folder for e in entries if e.page == "report.html"):
        target = folder / "report.html"
        newest = max(e.updated for e in entries if e.folder == folder)
        try:
            if target.is_file():
                if target.stat().st_mtime >= newest:
                    continue
                with open(target, "rb") as fh:
                    if GENERATOR_MARK not in fh.read(2048):
                        continue
            write_report(folder)
        except (LatentscapeError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # one bad folder must not hide the others
            errors[folder] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return errors


def _metric_columns(entries: list[Entry]) -> list[str]:
    counts = Counter(name for e in entries for name in e.metrics)
    order = {name: i for i, name in enumerate(dict.fromkeys(n for e in entries for n in e.metrics))}
    ranked = sorted(counts, key=lambda n: (-counts[n], order[n]))
    return ranked[:MAX_METRIC_COLUMNS]


def _select(name: str, label: str, values: list[str]) -> str:
    options = "".join(f"<option value='{escape(v, quote=True)}'>{escape(v)}</option>" for v in values)
    return (
        f"<label>{escape(label)} <select id='f-{name}' data-filter='{name}'>"
        f"<option value=''>all</option>{options}</select></label>"
    )


def _row(root: Path, e: Entry, columns: list[str], error: str | None) -> str:
    rel = e.folder.relative_to(root).as_posix() if e.folder != root else "."
    target = e.folder / e.page if e.page else None
    if target is not None and target.is_file():
        href = quote((target.relative_to(root)).as_posix()) + (f"#{quote(e.anchor)}" if e.anchor else "")
        name = f"<a href='{escape(href, quote=True)}'>{escape(e.name)}</a>"
    else:
        name = escape(e.name)
    note = f"<br><span class='note'>report not written: {escape(error)}</span>" if error else ""
    cells = [
        f"<td><span class='kind'>{escape(e.kind)}</span></td>",
        f"<td>{name}<br><span class='meta'>{escape(rel)}</span></td>",
        f"<td>{escape(e.model)}</td>",
        f"<td>{escape(e.dataset)}</td>",
        f"<td class='find'>{'' if e.kind == 'run' else f'<b>{escape(e.title)}</b><br>'}{escape(e.finding)}{note}</td>",
    ]
    for col in columns:
        v = e.metrics.get(col)
        cells.append(f"<td class='num' data-v='{'' if v is None else repr(float(v))}'>{escape(format_value(v)) if v is not None else ''}</td>")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated)) if e.updated else ""
    cells.append(f"<td data-v='{e.updated:.0f}'>{escape(stamp)}</td>")
    attrs = "".join(f" data-{k}='{escape(v, quote=True)}'" for k, v in (("kind", e.kind), ("model", e.model), ("dataset", e.dataset)))
    return f"<tr{attrs}>{''.join(cells)}</tr>"


def index_html(root: Path, entries: list[Entry], errors: dict[Path, str] | None = None, refresh_seconds: int | None = None) -> str:
    """The index page of `entries` (found under `root`)."""
    errors = errors or {}
    columns = _metric_columns(entries)
    head = ["kind", "name", "model", "dataset", "finding"]
    ths = "".join(f"<th scope='col' class='sortable' tabindex='0'>{escape(h)}</th>" for h in head)
    ths += "".join(f"<th scope='col' class='sortable num' tabindex='0'>{escape(c)}</th>" for c in columns)
    ths += "<th scope='col' class='sortable num' tabindex='0'>updated</th>"
    rows = "".join(_row(root, e, columns, errors.get(e.folder)) for e in entries)
    kinds = Counter(e.kind for e in entries)
    tally = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing recognised yet"
    filters = "".join(
        _select(name, name, sorted({getattr(e, name) for e in entries if getattr(e, name)}))
        for name in ("kind", "model", "dataset")
    )
    filters += "<label>text <input id='f-text' type='search' placeholder='name, finding...'></label><span id='shown' class='meta'></span>"
    live = f"<p class='meta'>Live: this page reloads every {refresh_seconds} s and is rebuilt when a run logs.</p>" if refresh_seconds else ""
    body = (
        f"<header><h1>Runs and analyses in {escape(root.resolve().name or str(root))}</h1>"
        f"<p class='meta'>{escape(str(root.resolve()))} &middot; {escape(tally)}</p></header>{live}"
        "<p>Every training run, curve, path, plane, FGE, tune study and probe found in this folder. "
        "Click a name to open its page, a column header to sort, or narrow the list with the filters. "
        "Metric columns hold each entry's key numbers (the last logged value of a run, the barrier of a path).</p>"
        f"<div class='filters'>{filters}</div>"
        f"<div class='scroll'><table id='entries'><thead><tr>{ths}</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    if not entries:
        body += "<p class='note'>No runs here yet: a run is a folder with config.yaml; an analysis writes summary.json.</p>"
    extra_head = f"<meta http-equiv='refresh' content='{int(refresh_seconds)}'>" if refresh_seconds else ""
    return page(f"{root.resolve().name} - latentscape index", body + footer(), head=extra_head, script=SCRIPT, wide=True)


def write_index(root: str | Path, refresh_seconds: int | None = None, pages: bool = True) -> Path:
    """Write `root/index.html` listing everything under `root` and return its path.

    Args:
        root: a folder of runs (searched recursively, run internals skipped).
        refresh_seconds: add a meta refresh (used by `--serve`).
        pages: first (re)write missing or stale report.html pages of the entries.

    Raises:
        LatentscapeError: `root` is missing or not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise LatentscapeError(f"not a folder: {root}")
    entries = discover(root)
    errors = refresh_pages(entries) if pages else {}
    return atomic_write_text(root / "index.html", index_html(root, entries, errors, refresh_seconds))
