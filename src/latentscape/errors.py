"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


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
