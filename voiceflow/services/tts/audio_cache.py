"""A bounded cache of finished syntheses, for the lines an agent says again and again.

A call centre's agent greets every caller with the same words and answers the
same questions the same way; synthesizing them anew is the largest CPU cost of
an offline call (Piper: ~0.05 s of CPU per second of speech, the load benchmark's
``cpu_split``). ``AudioCache`` keeps the chunks of complete syntheses, keyed by
everything that shapes the sound, least recently used first out, bounded in
bytes. Only a synthesis that ran to its end is kept (an interrupted one is not).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["AudioCache"]


class AudioCache:
    def __init__(self, max_bytes: int, *, max_text_chars: int = 400) -> None:
        self.max_bytes = max_bytes
        #: longer texts are rarely said twice word for word: not worth their room
        self.max_text_chars = max_text_chars
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, tuple[bytes, ...]] = OrderedDict()

    def wants(self, text: str) -> bool:
        return self.max_bytes > 0 and len(text) <= self.max_text_chars

    def get(self, key: Hashable) -> tuple[bytes, ...] | None:
        chunks = self._items.get(key)
        if chunks is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return chunks

    def put(self, key: Hashable, chunks: list[bytes]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self.max_bytes or key in self._items:
            return
        self._items[key] = tuple(chunks)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.bytes -= sum(len(c) for c in old)

    def __len__(self) -> int:
        return len(self._items)
