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
    text = environment().get_template(template).render(version=__version__, created=created, generator=GENERATOR, **context)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
