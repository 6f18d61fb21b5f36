"""One generic name -> entry registry, filled by a decorator next to each entry.

Generators, discriminators and style blocks (variants), feature networks, perceptual distances,
metrics and executors (harness) are all kept in a `Registry`. Duplicate names, entries of the wrong
kind and registrations after `freeze()` are rejected when the entry is defined; looking up an
unknown name raises an error that lists the known names and suggests the nearest one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; a KeyError (lookup) and a ValueError (bad input) alike."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the known name nearest to `name` (difflib), or '' when none is near."""
    matches = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def unknown_name_message(kind: str, name: object, known: Iterable[str], plural: str | None = None) -> str:
    """The one wording for a name that is not among `known`: what it is, the nearest, all known."""
    known = list(known)
    return (f"unknown {kind} {name!r}{did_you_mean(name, known)}; known {plural or kind + 's'}: "
            f"{', '.join(known) or '(none)'}")


class Registry(Generic[T]):
    """Entries of one kind (e.g. generator classes, feature-network loaders) by name.

    kind: what the entries are, used in messages ("generator").
    base: when given, every entry must be a subclass of it; otherwise any callable may register.
    """

    def __init__(self, kind: str, base: type | None = None, *, plural: str | None = None) -> None:
        self.kind = kind
        self.base = base
        self.plural = plural or kind + "s"
        self._entries: dict[str, T] = {}
        self._frozen = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@GENERATORS.register("skip")`; sets `entry.registered_name`."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} names must be non-empty strings, got {name!r}")

        def decorate(entry: T) -> T:
            self._check_entry(name, entry)
            self._entries[name] = entry
            entry.registered_name = name  # the name configs, rows and saved files refer to it by
            return entry

        return decorate

    def _check_entry(self, name: str, entry) -> None:
        if self._frozen:
            raise RuntimeError(f"cannot register {self.kind} {name!r}: the {self.kind} registry is frozen")
        if self.base is not None and not (isinstance(entry, type) and issubclass(entry, self.base)):
            raise TypeError(f"cannot register {entry!r} as {self.kind} {name!r}: "
                            f"it is not a subclass of {self.base.__name__}")
        if self.base is None and not callable(entry):
            raise TypeError(f"cannot register {entry!r} as {self.kind} {name!r}: it is not callable")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered "
                             f"(by {getattr(self._entries[name], '__qualname__', self._entries[name])})")

    def freeze(self) -> None:
        """Refuse further registrations (lookups go on as before)."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def get(self, name: str) -> T:
        """The entry registered as `name`; UnknownNameError lists the known names otherwise."""
        if name not in self._entries:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._entries, self.plural))
        return self._entries[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
