"""A Layer 3 (validation) test server on a loopback port, speaking docs/layer3-contract.md, with faults.

    with Layer3TestServer() as layer3:
        layer3.answer(verdict="changes_required", requirements=[...])   # what it says of every plan
        layer3.fault("error500", times=2)      # the next two requests answer 500
        client = Layer3Client(layer3.url)

Its answers can name the plan's own tasks: a `gates`, `after` or `task_id` of "$first" / "$last" is replaced
by the first / last task of the plan it was sent. Faults: slow (delay s, then the answer), hang (no answer),
error500, malformed (a body cut short), lying (a verdict outside the contract), other_plan (an answer about
another plan version), unknown_task (a finding about a task the plan does not have).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field

from tests.layer8_server import TrackedHandler, _Server

FAULTS = ("slow", "hang", "error500", "malformed", "lying", "other_plan", "unknown_task")


@dataclass
class Fault:
    kind: str
    remaining: int | None
    delay: float = 0.0


@dataclass
class State:
    answer: dict = field(default_factory=lambda: {"verdict": "approved", "findings": [], "requirements": []})
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # every validation request's body, in order
    keys: list[str | None] = field(default_factory=list)  # their Idempotency-Key headers
    lock: threading.Lock = field(default_factory=threading.Lock)


class Layer3TestServer:
    def __init__(self) -> None:
        self.state = State()
        self.port = 0
        self._server: _Server | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Layer3TestServer:
        self._stopping = threading.Event()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.layer3 = self
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port and every connection: clients now get 'connection refused'."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()

    def __enter__(self) -> Layer3TestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, verdict: str = "approved", *, reason: str | None = None, findings: list[dict] | None = None,
               requirements: list[dict] | None = None) -> None:
        with self.state.lock:
            self.state.answer = {"verdict": verdict, "reason": reason, "findings": findings or [],
                                 "requirements": requirements or []}

    def fault(self, kind: str, *, times: int | None = 1, delay: float = 0.0) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        with self.state.lock:
            self.state.faults.append(Fault(kind, times, delay))

    def requests(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.requests)

    def take_fault(self) -> Fault | None:
        with self.state.lock:
            if not self.state.faults:
                return None
            fault = self.state.faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.state.faults.pop(0)
            return fault

    def judge(self, request: dict) -> dict:
        """The scripted answer, about this request's plan version, with "$first"/"$last" made task ids."""
        with self.state.lock:
            answer = copy.deepcopy(self.state.answer)
        ids = [task["id"] for task in request.get("tasks") or ()] or ["?"]
        names = {"$first": ids[0], "$last": ids[-1]}

        def resolve(value):
            return [names.get(item, item) for item in value] if isinstance(value, list) else names.get(value, value)

        for finding in answer["findings"]:
            finding["task_id"] = resolve(finding.get("task_id"))
        for requirement in answer["requirements"]:
            requirement["gates"] = resolve(requirement.get("gates") or [])
            requirement["after"] = resolve(requirement.get("after") or [])
        return {"validation_id": f"val-{request.get('reference')}", "reference": request.get("reference"), **answer}


class _Handler(TrackedHandler):

    def do_GET(self) -> None:
        if self.path == "/health":
            return self._send(200, {"status": "ok"})
        self._send(404, {"type": "/problems/not-found", "title": "Not found", "status": 404}, problem=True)

    def do_POST(self) -> None:
        layer3: Layer3TestServer = self.server.layer3
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path != "/api/v1/validations":
            return self._send(404, {"type": "/problems/not-found", "title": "Not found", "status": 404}, problem=True)
        try:
            request = json.loads(raw)
        except ValueError:
            return self._send(400, {"type": "/problems/malformed-json", "title": "Malformed JSON", "status": 400},
                              problem=True)
        with layer3.state.lock:
            layer3.state.requests.append(request)
            layer3.state.keys.append(self.headers.get("Idempotency-Key"))
        fault = layer3.take_fault()
        if fault is not None and fault.kind == "hang":
            layer3._stopping.wait(fault.delay or 30.0)
            self.close_connection = True
            return None
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "error500":
            return self._send(500, {"type": "/problems/internal", "title": "Layer 3 failed", "status": 500},
                              problem=True)
        if fault is not None and fault.kind == "malformed":
            return self._write(200, b'{"verdict": "appro', "application/json")
        answer = layer3.judge(request)
        if fault is not None and fault.kind == "lying":
            answer["verdict"] = "probably_fine"
        elif fault is not None and fault.kind == "other_plan":
            answer["reference"] = "someone-else/v9"
        elif fault is not None and fault.kind == "unknown_task":
            answer["findings"] = [{"id": "F-ghost", "severity": "high", "task_id": "no-such-task",
                                   "title": "A task this plan does not have"}]
        return self._send(200, answer)

    def _send(self, status: int, body: dict, *, problem: bool = False) -> None:
        self._write(status, json.dumps(body).encode(), "application/problem+json" if problem else "application/json")
