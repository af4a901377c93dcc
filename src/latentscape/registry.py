"""Name -> builder tables. Everything selectable by name in a config or on the command line is
registered here, so no other module needs an `if name == ...` chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the allowed names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


class Registry(Generic[T]):
    """A table of named entries of one kind ("model", "dataset", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T | None = None) -> Any:
        """Register `entry` under `name`; without `entry`, works as a decorator."""

        def add(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add if entry is None else add(entry)

    def get(self, name: str) -> T:
        _load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        _load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        _load_builtins()
        return name in self._entries


# Models: name -> ModelEntry (config class + builder), see latentscape.models.base.
MODELS: Registry[Any] = Registry("model")
# Datasets: name -> DatasetEntry, see latentscape.data.registry.
DATASETS: Registry[Any] = Registry("dataset")
# Feature extractors for FID/KID: name -> builder.
FEATURE_NETS: Registry[Callable[..., Any]] = Registry("feature net")
# Metrics along weight-space paths and in `eval`: name -> metric factory.
METRICS: Registry[Callable[..., Any]] = Registry("metric")

_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Import the modules that register the built-in entries (once, lazily)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import latentscape.builtins  # noqa: F401  (imports for their registration side effect)
