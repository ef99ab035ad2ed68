"""Log-in throttling (issue 14, finding 6): after too many wrong passwords for one account, or from one address,
``POST /api/v1/auth/token`` answers 429 with ``Retry-After`` until the oldest failure leaves the window, whatever
the password: thirty wrong guesses and then the right one no longer succeeds.

Failures are counted per process, in memory, for :data:`WINDOW_S`: enough for one `wangge serve` (with several
workers each counts its own, so the limits multiply by the workers); nginx's ``limit_req`` in front (see the
README) covers a fleet. A successful log-in forgets that account's failures, not the address's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import HTTPException, status

WINDOW_S = 15 * 60
ACCOUNT_LIMIT = 5  # wrong passwords for one account in the window
ADDRESS_LIMIT = 20  # wrong passwords from one address in the window (an office's shared address)
_MAX_KEYS = 100_000  # forgotten oldest-first beyond this, so a flood of names cannot fill the memory


@dataclass
class LoginThrottle:
    window_s: float = WINDOW_S
    account_limit: int = ACCOUNT_LIMIT
    address_limit: int = ADDRESS_LIMIT
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, account: str, address: str | None, now: float | None = None) -> None:
        """Raise 429 (with Retry-After) when the account or the address is over its limit."""
        now = time.monotonic() if now is None else now
        waits = [self._wait(f"account:{account}", self.account_limit, now)]
        if address:
            waits.append(self._wait(f"address:{address}", self.address_limit, now))
        wait = max(waits)
        if wait > 0:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                f"too many wrong passwords; try again in {math.ceil(wait)} s",
                                headers={"Retry-After": str(math.ceil(wait))})

    def failed(self, account: str, address: str | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (f"account:{account}", *((f"address:{address}",) if address else ())):
            if len(self._failures) >= _MAX_KEYS and key not in self._failures:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        self._failures.pop(f"account:{account}", None)

    def _wait(self, key: str, limit: int, now: float) -> float:
        failures = self._failures.get(key)
        if not failures:
            return 0.0
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) < limit:
            return 0.0
        return failures[-limit] + self.window_s - now
