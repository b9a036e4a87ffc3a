"""The API served by uvicorn on a free loopback port, with a broker and an InfluxDB database of
its own, for tests that drive it over HTTP (schemathesis)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.settings import Settings, load_settings
from tests.conftest import _need


@contextmanager
def served_api(
    influx_server: services.InfluxService,
    tmp: Path,
    prepare: Callable[[Settings, InfluxClient], None],
) -> Iterator[tuple[str, Settings]]:
    """(base URL, settings) of a running API; `prepare(settings, database)` runs before it
    starts (register sensors, write readings, make keys)."""
    _need("mosquitto")
    broker = services.mosquitto(tmp / "mosquitto").start()
    influx = InfluxClient(influx_server.url, f"test_{uuid.uuid4().hex[:12]}")
    influx.create_database()
    settings = load_settings(
        {},
        mqtt_url=broker.url,
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp / "var",
        # schemathesis sends bad keys on purpose: judge each request by its key, never a 429
        api_auth_failures_per_minute=100_000,
    )
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        prepare(settings, influx)
        port = services.free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api", daemon=True)
        thread.start()
        for _ in range(200):  # bounded: 10 s
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}", settings
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(15)
        influx.query(f'DROP DATABASE "{influx.database}"', method="POST")
        influx.close()
        broker.stop()
