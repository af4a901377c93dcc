"""User-facing errors: the CLI prints their message on one line and exits non-zero."""

from __future__ import annotations

from collections.abc import Iterable


class LatentscapeError(Exception):
    """Base class of errors caused by user input (paths, configs, files, mismatched models)."""


class ConfigError(LatentscapeError, ValueError):
    """A config key is unknown, or a value has the wrong type or is out of range."""


class DataError(LatentscapeError):
    """A dataset folder or file is missing, truncated, malformed or fails its checksum."""


class CheckpointError(LatentscapeError):
    """A checkpoint file is missing, truncated, foreign, or does not fit the model."""


class TrainingDiverged(LatentscapeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """` (did you mean 'train'?)` when `word` is close to one of `choices` (difflib), else ""."""
    import difflib

    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    if not close:  # a dotted key or option spelt with another separator: train.optimiser.lr
        folded = {n.replace("-", "_").lower(): n for n in names}
        close = [folded[m] for m in difflib.get_close_matches(str(word).replace("-", "_").lower(), list(folded), n=1, cutoff=0.6)]
    return f" (did you mean {close[0]!r}?)" if close else ""
