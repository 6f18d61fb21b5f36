"""One generic name -> class registry, filled by a decorator next to each class.

Duplicate names and classes that do not derive from the registry's base class are rejected when
the class is defined; looking up an unknown name raises an error listing the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; a KeyError (lookup) and a ValueError (bad input) alike."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class Registry(Generic[T]):
    """Classes of one kind (e.g. generators) by name.

    kind: what the entries are, used in messages ("generator").
    base: every registered class must be a subclass of it.
    """

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, type] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: `@GENERATORS.register("skip")`; sets `cls.registered_name`."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} names must be non-empty strings, got {name!r}")

        def decorate(cls: T) -> T:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"cannot register {cls!r} as {self.kind} {name!r}: "
                                f"it is not a subclass of {self.base.__name__}")
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered "
                                 f"(by {self._entries[name].__qualname__})")
            self._entries[name] = cls
            cls.registered_name = name  # the name configs and saved files refer to it by
            return cls

        return decorate

    def get(self, name: str) -> type:
        """The class registered as `name`; UnknownNameError lists the known names otherwise."""
        if name not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: "
                                   f"{', '.join(self._entries) or '(none)'}")
        return self._entries[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
