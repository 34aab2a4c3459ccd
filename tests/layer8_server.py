"""A real Layer 8 for tests: docs/layer8-contract.md over HTTP on a loopback port, in memory.

    with Layer8TestServer() as layer8:
        layer8.fault("error500", times=2)     # the next two requests answer 500
        client = Layer8Client(layer8.url)

Faults on demand, each for the next `times` requests (None: until cleared), optionally
only for paths starting with `path`:

- ``slow``: answer normally after `delay` seconds;
- ``error500``: a problem+json 500;
- ``hang``: never answer (until `delay` seconds pass or the server stops), then drop the connection;
- ``malformed``: 200 with a body that is not JSON;
- ``unconfirmed``: confirmations answer 200 but leave the allocation held (a lying Layer 8).

`stop()` closes the port and every open connection (the client then meets "connection
refused"); `start()` again reopens the same port with the same state.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_POOLS = [
    {"type": "engineer", "capacity": 4, "cost_rate": 80.0, "rate_unit": "hour", "currency": "EUR",
     "hours_per_day": 8, "substitutes": []},
    {"type": "senior_engineer", "capacity": 2, "cost_rate": 880.0, "rate_unit": "day", "currency": "EUR",
     "hours_per_day": 8, "substitutes": ["engineer"]},
    {"type": "qa", "capacity": 2, "cost_rate": 60.0, "rate_unit": "hour", "currency": "EUR",
     "hours_per_day": 8, "substitutes": []},
]
FAULTS = ("slow", "error500", "hang", "malformed", "unconfirmed")


@dataclass
class Fault:
    kind: str
    remaining: int | None
    delay: float = 0.0
    path: str = ""


@dataclass
class State:
    pools: dict[str, dict]
    hold_ttl: float
    allocations: dict[str, dict] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    windows: list[tuple[str, str]] = field(default_factory=list)  # (from, to) of every availability query
    lock: threading.Lock = field(default_factory=threading.Lock)


class Layer8TestServer:
    def __init__(self, pools: list[dict] | None = None, *, hold_ttl: float = 900.0):
        self.state = State(pools={p["type"]: dict(p) for p in (pools or DEFAULT_POOLS)}, hold_ttl=hold_ttl)
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Layer8TestServer:
        self._stopping = threading.Event()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.layer8 = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every connection: clients now get 'connection refused'."""
        server = self._server
        if server is None:
            return
        self._stopping.set()  # releases hanging handlers
        server.shutdown()
        server.server_close()
        server.close_connections()
        self._server = None

    def __enter__(self) -> Layer8TestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- faults and inspection ------------------------------------------------------

    def fault(self, kind: str, *, times: int | None = 1, delay: float = 0.0, path: str = "") -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        with self.state.lock:
            self.state.faults.append(Fault(kind, times, delay, path))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def hits(self, path_prefix: str = "", method: str | None = None) -> int:
        with self.state.lock:
            return sum(1 for m, p in self.state.log if p.startswith(path_prefix) and (method is None or m == method))

    def allocation(self, allocation_id: str) -> dict | None:
        with self.state.lock:
            found = self.state.allocations.get(allocation_id)
            return dict(found) if found else None

    def allocations(self, status: str | None = None) -> list[dict]:
        with self.state.lock:
            return [dict(a) for a in self.state.allocations.values() if status is None or a["status"] == status]

    def availability_windows(self) -> list[tuple[date, date]]:
        """The `from`/`to` of every availability query answered, in order."""
        with self.state.lock:
            return [(date.fromisoformat(start), date.fromisoformat(end)) for start, end in self.state.windows]

    def holds_of(self, reference_prefix: str) -> list[dict]:
        """The allocations whose `reference` (plan id / version) starts with `reference_prefix`."""
        with self.state.lock:
            return [dict(a) for a in self.state.allocations.values() if a["reference"].startswith(reference_prefix)]

    def take_fault(self, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.kind == "unconfirmed" and not path.endswith("/confirm"):
                    continue
                if path.startswith(fault.path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.state.faults.remove(fault)
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    layer8: Layer8TestServer

    def __init__(self, *args, **kwargs):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()


class TrackedHandler(BaseHTTPRequestHandler):
    """Keep-alive handler whose connections the server can cut (`_Server.close_connections`); quiet;
    `_write` writes one answer and gives up on a client that went away. The Layer 3 test server uses it too."""

    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    disable_nagle_algorithm = True  # headers and body go out as two writes; do not wait 40 ms between them
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass

    def _write(self, status: int, body: bytes, content_type: str | None) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class _Handler(TrackedHandler):

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ---------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        layer8 = self.server.layer8
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with layer8.state.lock:
            layer8.state.log.append((method, parts.path))
        fault = layer8.take_fault(parts.path)
        if fault is not None:
            if fault.kind == "hang":
                layer8._stopping.wait(fault.delay or 30.0)
                self.close_connection = True
                return
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "error500":
                return self._problem(500, "internal-error", "Layer 8 failed", "injected fault")
            elif fault.kind == "malformed":
                return self._write(200, b'{"resources": [ {"type": "engi', "application/json")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._problem(400, "malformed-json", "Malformed JSON", "the body is not JSON")
        routes = _Routes(layer8.state, fault)
        status, payload = routes.handle(method, parts.path, parse_qs(parts.query), body, self.headers)
        if status == 204:
            return self._write(204, b"", None)
        content_type = "application/problem+json" if status >= 400 else "application/json"
        self._write(status, json.dumps(payload).encode(), content_type)

    def _problem(self, status: int, slug: str, title: str, detail: str) -> None:
        body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
        self._write(status, json.dumps(body).encode(), "application/problem+json")

class _Routes:
    """The contract's endpoints over the in-memory state."""

    def __init__(self, state: State, fault: Fault | None):
        self.state = state
        self.fault = fault

    def handle(self, method: str, path: str, query: dict, body, headers) -> tuple[int, dict | None]:
        segments = [s for s in path.split("/") if s]
        with self.state.lock:
            self._expire()
            if method == "GET" and path == "/health":
                return 200, {"status": "ok"}
            if method == "GET" and path == "/api/v1/resources/availability":
                return self.availability(query)
            if segments[:3] == ["api", "v1", "allocations"]:
                if method == "POST" and len(segments) == 3:
                    return self.create(body, headers.get("Idempotency-Key"))
                if len(segments) >= 4 and segments[3] not in self.state.allocations:
                    return _problem(404, "unknown-allocation", "Unknown allocation", f"no allocation {segments[3]}")
                if method == "POST" and len(segments) == 5 and segments[4] == "confirm":
                    return self.confirm(segments[3])
                if method == "DELETE" and len(segments) == 4:
                    self.state.allocations[segments[3]]["status"] = "released"
                    return 204, None
                if method == "GET" and len(segments) == 4:
                    return 200, dict(self.state.allocations[segments[3]])
            return _problem(404, "not-found", "Not found", f"no route {method} {path}")

    def _expire(self) -> None:
        now = time.time()
        for allocation in self.state.allocations.values():
            if allocation["status"] == "held" and allocation["expires_at_epoch"] < now:
                allocation["status"] = "expired"

    def used(self, resource: str, day: date) -> int:
        return sum(a["units"] for a in self.state.allocations.values()
                   if a["resource"] == resource and a["status"] in ("held", "confirmed")
                   and date.fromisoformat(a["from"]) <= day <= date.fromisoformat(a["to"]))

    def availability(self, query: dict) -> tuple[int, dict]:
        try:
            start, end = date.fromisoformat(query["from"][0]), date.fromisoformat(query["to"][0])
        except (KeyError, ValueError):
            return _problem(400, "invalid-query", "Invalid query", "`from` and `to` must be ISO dates")
        if end < start:
            return _problem(400, "invalid-query", "Invalid query", "`to` is before `from`")
        self.state.windows.append((start.isoformat(), end.isoformat()))
        wanted = set(query["types"][0].split(",")) if "types" in query else None
        resources = []
        for pool in self.state.pools.values():
            if wanted is not None and pool["type"] not in wanted and not wanted & set(pool.get("substitutes", ())):
                continue
            periods: list[dict] = []
            day = start
            while day <= end:
                free = max(0, pool["capacity"] - self.used(pool["type"], day))
                if periods and periods[-1]["available"] == free:
                    periods[-1]["to"] = day.isoformat()
                else:
                    periods.append({"from": day.isoformat(), "to": day.isoformat(), "available": free})
                day += timedelta(days=1)
            resources.append({**pool, "periods": periods})
        return 200, {"from": start.isoformat(), "to": end.isoformat(), "resources": resources}

    def create(self, body, key: str | None) -> tuple[int, dict]:
        if not key:
            return _problem(400, "idempotency-key-required", "Idempotency-Key required",
                            "send an Idempotency-Key header with every allocation request")
        if key in self.state.by_key:
            return 200, self._public(self.state.allocations[self.state.by_key[key]])
        errors = []
        if not isinstance(body, dict):
            return _problem(422, "invalid-allocation", "Invalid allocation request", "the body must be an object")
        if body.get("resource") not in self.state.pools:
            errors.append({"field": "resource", "message": "unknown resource type"})
        units = body.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            errors.append({"field": "units", "message": "must be a whole number >= 1"})
        try:
            start, end = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
            if end < start:
                errors.append({"field": "to", "message": "is before from"})
        except (KeyError, TypeError, ValueError):
            errors.append({"field": "from", "message": "`from` and `to` must be ISO dates"})
        if errors:
            status, problem = _problem(422, "invalid-allocation", "Invalid allocation request", "see errors")
            return status, {**problem, "errors": errors}
        pool = self.state.pools[body["resource"]]
        free = min(pool["capacity"] - self.used(pool["type"], start + timedelta(days=offset))
                   for offset in range((end - start).days + 1))
        if free < units:
            status, problem = _problem(409, "insufficient-capacity", "Insufficient capacity",
                                       f"{free} {pool['type']} free over the period, {units} asked")
            return status, {**problem, "available": max(0, free)}
        allocation_id = uuid.uuid4().hex
        expires = time.time() + self.state.hold_ttl
        self.state.allocations[allocation_id] = {
            "id": allocation_id, "resource": body["resource"], "units": units, "from": start.isoformat(),
            "to": end.isoformat(), "reference": str(body.get("reference", "")), "status": "held",
            "expires_at_epoch": expires, "expires_at": _iso(expires), "confirmed_at": None,
        }
        self.state.by_key[key] = allocation_id
        return 201, self._public(self.state.allocations[allocation_id])

    def confirm(self, allocation_id: str) -> tuple[int, dict]:
        allocation = self.state.allocations[allocation_id]
        if allocation["status"] in ("released", "expired"):
            return _problem(409, "allocation-not-held", "Allocation not held",
                            f"allocation {allocation_id} is {allocation['status']}")
        if self.fault is not None and self.fault.kind == "unconfirmed":
            return 200, self._public(allocation)
        if allocation["status"] == "held":
            allocation["status"] = "confirmed"
            allocation["confirmed_at"] = _iso(time.time())
        return 200, self._public(allocation)

    @staticmethod
    def _public(allocation: dict) -> dict:
        return {k: v for k, v in allocation.items() if k != "expires_at_epoch"}


def _problem(status: int, slug: str, title: str, detail: str) -> tuple[int, dict]:
    return status, {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
