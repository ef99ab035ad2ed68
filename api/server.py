"""How ``wangge serve`` runs uvicorn: timeouts for slow and silent clients, and a cap on connections (issue 14,
finding 5).

uvicorn closes a keep-alive connection that stays idle after an answer (``timeout_keep_alive``), but not one
that never finishes sending its request: a client that connects and says nothing, or sends its headers a byte
at a time (slowloris), or announces a body and stops, holds its connection for ever (measured: 0 of 800 such
connections closed after 68 s). :class:`TimedHttpProtocol` adds the two timers uvicorn lacks:

- **header timeout** (``WANGGE_HEADER_TIMEOUT_S``): from the connection's start, or from the end of the last
  answer, the next request's headers must be complete within this many seconds;
- **body timeout** (``WANGGE_BODY_TIMEOUT_S``): while a request's body is still coming, no gap between two
  pieces of it may last longer (a photo upload that keeps moving is never cut off).

A connection that runs out of either is closed. ``limit_concurrency`` (``WANGGE_MAX_CONNECTIONS``) caps open
connections and running requests per process; beyond it uvicorn answers 503 at once. Behind nginx (the
README's production set-up) the proxy holds the slow clients and these are a second line.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gis.settings import Settings, get_settings


class TimedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a body idle timeout (see the module)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        # From the Config when :func:`config` built it (tests), else from the settings (`wangge serve`).
        timeouts = getattr(config, "wangge_timeouts", None) or (get_settings().header_timeout_s,
                                                                 get_settings().body_timeout_s)
        self.header_timeout: float = timeouts[0]
        self.body_timeout: float = timeouts[1]
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._reading_body = False

    # -- the timers -----------------------------------------------------------------------------------------
    def _expire(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _arm_header_timer(self) -> None:
        self._cancel(self._header_timer)
        self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _arm_body_timer(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.body_timeout, self._expire)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    # -- uvicorn's callbacks --------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._header_timer)
        self._cancel(self._body_timer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_body:
            self._arm_body_timer()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None or self._header_timer.cancelled():
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel(self._header_timer)
        self._reading_body = True
        self._arm_body_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._cancel(self._body_timer)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's headers, if the client keeps the connection


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments ``wangge serve`` (and the tests' live servers) give uvicorn."""
    return {
        "http": TimedHttpProtocol,
        "timeout_keep_alive": settings.keepalive_timeout_s,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": 64 * 1024,  # the h11 parser's cap on a request head, if it is used
        "server_header": False,
    }


def config(app: Any, settings: Settings | None = None, **options: Any) -> uvicorn.Config:
    """A uvicorn Config for ``app`` with :func:`uvicorn_options` (``options`` added or overriding)."""
    settings = settings or get_settings()
    built = uvicorn.Config(app, **{**uvicorn_options(settings), **options})
    built.wangge_timeouts = (settings.header_timeout_s, settings.body_timeout_s)  # type: ignore[attr-defined]
    return built
