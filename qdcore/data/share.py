"""Selections shared inside one process: trials of a study that ask for the same drawings select them once."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

_cache: OrderedDict | None = None  # None: sharing is off (every call selects afresh)
_size = 2


@contextmanager
def sharing(size: int = 2) -> Iterator[None]:
    """Within this block, `shared(key, make)` keeps the last `size` results by key (a study worker's trials)."""
    global _cache, _size
    old, old_size = _cache, _size
    _cache, _size = OrderedDict(), size
    try:
        yield
    finally:
        _cache, _size = old, old_size


def shared(key: Hashable, make: Callable[[], Any]) -> Any:
    """make(), or the result an earlier call with the same key made inside `sharing()`."""
    if _cache is None:
        return make()
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    value = make()
    _cache[key] = value
    while len(_cache) > _size:
        _cache.popitem(last=False)
    return value


def loads() -> int | None:
    """How many selections the current sharing block holds (None outside one)."""
    return None if _cache is None else len(_cache)
