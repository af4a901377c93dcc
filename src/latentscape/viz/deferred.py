"""Pictures after the numbers: run a drawing step now, in a background process, or not at all.

Commands write their numbers (JSON) first and draw afterwards; drawing (matplotlib) often costs
more than computing the numbers. `LATENTSCAPE_PLOTS` chooses how:

- `sync` (default): draw in this process before the command returns;
- `background`: fork a child that draws while the command returns at once (POSIX only; the
  numbers are already on disk, so a failing or killed child cannot lose them; its errors go to
  stderr, one line each unless LATENTSCAPE_DEBUG is set);
- `none`: draw nothing (numbers only).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

MODES = ("sync", "background", "none")


def plots_mode() -> str:
    mode = os.environ.get("LATENTSCAPE_PLOTS", "sync").strip().lower() or "sync"
    if mode not in MODES:
        from latentscape.errors import ConfigError

        raise ConfigError(f"LATENTSCAPE_PLOTS={mode!r}: allowed {', '.join(MODES)}")
    return mode


def draw(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run the drawing step `fn(*args, **kwargs)` as `LATENTSCAPE_PLOTS` says."""
    mode = plots_mode()
    if mode == "none":
        return
    if mode == "background" and hasattr(os, "fork"):
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:  # the child draws and exits without running the parent's cleanup
            code = 0
            try:
                os.setsid()  # not killed with the parent's terminal process group
                fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001  (report, never propagate into the parent's code)
                if os.environ.get("LATENTSCAPE_DEBUG"):
                    traceback.print_exc()
                else:  # one line, like the command line's own errors
                    first = (str(exc).splitlines() or [""])[0]
                    print(f"error: background plots: {exc.__class__.__name__}: {first} "
                          "(set LATENTSCAPE_DEBUG=1 for the traceback)", file=sys.stderr)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return
    fn(*args, **kwargs)
