"""The pages' template engine: Jinja2 with autoescaping, templates shipped in viz/templates/.

Every string a template prints is HTML-escaped unless it is marked safe, and no template marks
anything safe: the page data (viz/blocks.py) holds plain text, numbers and `data:` URIs (whose
base64 alphabet needs no escaping), so a run named `<script>` is shown, not executed. Undefined
names fail loudly (StrictUndefined) instead of printing nothing. The page's CSS and script are
template files included as they are (page.css, index.js), so each page stays one self-contained
file with no network access.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from latentscape.viz.html_parts import format_value

#: The generator mark of pages written here: a page without it is never overwritten.
GENERATOR = "latentscape report"

#: What a page may load: the pages are self-contained (inline <style> and <script>, pictures as
#: data: URIs), so nothing else, from anywhere. Every page carries it in a <meta http-equiv> (a page
#: mailed or opened from disk has no server to send the header); `report --serve` sends it as a
#: header too, with `frame-ancestors`, which browsers honour only in the header (viz/serve.py).
PAGE_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment (autoescape on for every template, strict undefined)."""
    env = Environment(
        loader=PackageLoader("latentscape.viz", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_value
    return env


def render(template: str, **context: Any) -> str:
    """Render `template` (a file in viz/templates/) with `context` and the page footer's facts.

    The returned text is safe to encode as UTF-8: a lone surrogate that reached it (a file name
    with bytes that are not UTF-8, decoded by the OS layer with `surrogateescape`) is written as a
    visible backslash escape rather than failing the whole page.
    """
    from latentscape import __version__

    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = environment().get_template(template).render(version=__version__, created=created, generator=GENERATOR,
                                                          policy=PAGE_POLICY, **context)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
