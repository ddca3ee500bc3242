"""The one bounded cache: least recently used goes first, never more than its bound, safe to
share between threads."""

from __future__ import annotations

import threading

import pytest

from gateway.lru import LruCache


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert cache.get("a") == 0  # read: now the most recent
    cache.put("b", 10)  # written again: the most recent
    cache.put("d", 3)  # full: "c" is the least recently used
    assert "c" not in cache
    assert [cache.get(k) for k in "abd"] == [0, 10, 3]
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0
    assert cache.get("a") is None


def test_it_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        LruCache(0)


def test_threads_sharing_it_never_pass_its_bound() -> None:
    cache: LruCache[tuple[int, int], int] = LruCache(64)
    seen_over: list[int] = []

    def work(thread: int) -> None:
        for i in range(2_000):
            cache.put((thread, i), i)
            found = cache.get((thread, i - 1))
            assert found is None or found == i - 1
            if len(cache) > 64:
                seen_over.append(len(cache))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not seen_over
    assert len(cache) == 64
