"""Pictures after the numbers: run a drawing step now, in a background process, or not at all.

Commands write their numbers (JSON) first and draw afterwards; drawing (matplotlib) often costs
more than computing the numbers. `LATENTSCAPE_PLOTS` chooses how:

- `sync` (default): draw in this process before the command returns;
- `background`: fork a child that draws while the command returns at once (POSIX only; the
  numbers are already on disk, so a failing or killed child cannot lose them; its errors go to
  stderr);
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
            except BaseException:  # noqa: BLE001  (report, never propagate into the parent's code)
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return
    fn(*args, **kwargs)
