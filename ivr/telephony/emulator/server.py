"""Real-time mode: the emulator's REST API on a loopback socket, and its
network running against the wall clock, both in daemon threads that stop when
the context manager exits."""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server

from ivr.telephony.twilio_carrier import TwilioCarrier

if TYPE_CHECKING:
    from .emulator import CarrierEmulator


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmulatorServer:
    """``with emulator.serve() as server:`` -- REST at ``server.base_url``."""

    def __init__(
        self,
        emulator: CarrierEmulator,
        host: str = "127.0.0.1",
        port: int = 0,
        realtime: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the carrier emulator only listens on loopback, not {host!r}")
        self.emulator = emulator
        self.host, self.port = host, port
        self.realtime = realtime
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator server is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def carrier(self, **kwargs: Any) -> TwilioCarrier:
        """The Twilio adapter pointed at this server over HTTP, on the emulator's clock
        (deadlines and look-ups compare its instants with the calls it stamps)."""
        kwargs.setdefault("clock", self.emulator.clock)
        return TwilioCarrier(
            self.emulator.account_sid,
            self.emulator.auth_token,
            api_base_url=self.base_url,
            **kwargs,
        )

    def start(self) -> EmulatorServer:
        self._server = make_server(self.host, self.port, self.emulator.rest_app, threaded=True)
        self.emulator.public_base_url = self.base_url
        self.emulator.stopping.clear()
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="emulator-rest",
            daemon=True,
        )
        serve.start()
        self._threads.append(serve)
        if self.realtime:
            network = threading.Thread(
                target=self.emulator.timeline.run_forever,
                args=(self._stop,),
                name="emulator-network",
                daemon=True,
            )
            network.start()
            self._threads.append(network)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.emulator.stopping.set()  # releases requests held by timeout faults
        self.emulator.timeline.notify()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
