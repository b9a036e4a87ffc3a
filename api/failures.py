"""Failed authentication per source address: counted over a sliding minute, refused past a limit.

A source with `limit` failures in the last `window_s` seconds is refused (429 with Retry-After)
before its key is even looked up, until its oldest failure leaves the window. Memory is bounded:
at most `limit` times per source and `max_sources` sources, the least recently failing dropped
first (an attacker with more addresses than that gets no more tries per address than the limit
in any case, only a fresh count sooner).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_SOURCES = 10_000


class AuthFailures:
    """Failed authentications per source over the last `window_s` seconds."""

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        max_sources: int = MAX_SOURCES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.max_sources = limit, window_s, max_sources
        self._clock = clock
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, source: str, now: float) -> deque[float] | None:
        times = self._times.get(source)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[source]
            return None
        return times

    def retry_after(self, source: str) -> int | None:
        """Whole seconds until `source` may try again, or None when it may now."""
        with self._lock:
            now = self._clock()
            times = self._recent(source, now)
            if times is None or len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def record(self, source: str) -> int:
        """Count one failure of `source`; how many it has in the window now."""
        with self._lock:
            now = self._clock()
            times = self._recent(source, now)
            if times is None:
                times = self._times[source] = deque(maxlen=self.limit)
                while len(self._times) > self.max_sources:
                    self._times.popitem(last=False)
            self._times.move_to_end(source)
            times.append(now)
            return len(times)

    def __len__(self) -> int:
        return len(self._times)
