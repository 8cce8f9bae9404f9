"""One registry per kind of backend (layout, embed, rerank, describe, generate): names -> builders.

Each kind's package registers its builders with ``@REGISTRY.register("name")``; a builder imports its heavy
library inside, so registering costs nothing. ``build`` is the one way a backend is chosen by name, and an
unknown name is always the same error, listing the names that exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from paperlens.errors import UnknownBackendError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._builders:
                raise ValueError(f"{self.kind} backend {name!r} registered twice")
            self._builders[name] = builder
            return builder

        return add

    def names(self) -> list[str]:
        return list(self._builders)

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        builder = self._builders.get(name)
        if builder is None:
            raise UnknownBackendError(
                f"unknown {self.kind} backend {name!r}; known: {', '.join(self._builders)}"
            )
        return builder(*args, **kwargs)
