"""``Registry[T]``: a name maps to a constructor, registered where it is defined.

One lookup style for every swappable part (backbones, text encoders,
segmenters, aligners, descriptors, detectors, datasets, click methods), in the
manner of timm: the definition registers itself, the command line takes its
choices from ``names()``, and adding a part touches one file.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class UnknownNameError(ConfigError, KeyError):
    """A name that no entry of the registry has."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind  # what the entries are, for messages: "backbone", "segmenter", ...
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str, constructor: Callable[..., T] | None = None):
        """``registry.register("name", Cls)``, or as a class / function decorator."""
        if constructor is None:
            return lambda c: self.register(name, c)
        if name in self._entries and self._entries[name] is not constructor:
            raise ConfigError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = constructor
        return constructor

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def create(self, name: str, **kwargs) -> T:
        return self.get(name)(**kwargs)

    def create_or(self, name: str, fallback: Callable[[str], T | None], alternatives: str) -> T:
        """``create(name)`` for a registered name, else what ``fallback(name)`` builds.

        For parts that may also be named by what they load from (a hub id, a
        directory): ``fallback`` returns ``None`` for a name it cannot build
        either, and the error then lists the registered names followed by
        ``alternatives``, which says in words what else is accepted.
        """
        if name in self._entries:
            return self.create(name)
        built = fallback(name)
        if built is None:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; choose one of {', '.join(sorted(self.names()))}, "
                                   f"{alternatives}")
        return built

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
