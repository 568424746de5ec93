"""A loopback server speaking the LangSmith API as the real ``langsmith`` client uses it, for tests
of tracing.

Ingestion, as ``langsmith.Client``'s background thread sends it:

- ``GET /info``: the server's info; its ``batch_ingest_config.use_multipart_endpoint`` and
  ``instance_flags.zstd_compression_enabled`` make the client send to ``/runs/batch`` (mode
  ``batch``), ``/runs/multipart`` (mode ``multipart``) or zstd-compressed ``/runs/multipart``
  (mode ``zstd``).
- ``POST /runs/batch``: JSON ``{"post": [run, ...], "patch": [run, ...]}``.
- ``POST /runs/multipart``: ``multipart/form-data`` (``Content-Encoding: zstd`` when compressed)
  with parts ``post.<id>`` / ``patch.<id>`` (the run without its big fields) and
  ``post.<id>.inputs`` / ``.outputs`` / ``.events`` / ``.extra`` / ``.error`` / ``.serialized``
  (each a JSON value); ``attachment.<id>.<name>`` parts are counted, not kept.
- ``POST /runs`` and ``PATCH /runs/<id>``: one run (the client's unbatched path).

Reading, as ``langsmith.Langsmith`` (the generated v2 client) asks:

- ``GET /api/v2/sessions?name=<project>``: the project, once a run was traced into it.
- ``GET /api/v2/runs/<id>/url?project_id=..&trace_id=..``: the run's web URL, 404 for an unknown run.

Every request must carry ``x-api-key`` equal to :attr:`LangSmithLoopback.api_key` (401 otherwise).
Runs are merged by id (post, then patches) into :attr:`LangSmithLoopback.runs`; :meth:`trees`
assembles them by ``trace_id`` and ``parent_run_id``.

Use::

    with LangSmithLoopback(mode="multipart") as ls:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", ls.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", ls.api_key)
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import zstandard

MODES = ("batch", "multipart", "zstd")
_BIG_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")


@dataclass
class TracedRun:
    """One run as LangSmith stored it, with its child runs (filled by :meth:`LangSmithLoopback.trees`)."""

    data: dict[str, Any]
    children: list[TracedRun] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str:
        return self.data.get("name", "")

    @property
    def metadata(self) -> dict[str, Any]:
        return (self.data.get("extra") or {}).get("metadata") or {}

    @property
    def tags(self) -> list[str]:
        return self.data.get("tags") or []

    def child(self, name: str) -> TracedRun:
        """The only child named ``name``.

        Raises:
            AssertionError: none or several.
        """
        found = [c for c in self.children if c.name == name]
        assert len(found) == 1, f"{self.name} has children {[c.name for c in self.children]}, wanted one {name!r}"
        return found[0]

    def walk(self) -> list[TracedRun]:
        """This run and all its descendants, depth first."""
        return [self, *(r for c in self.children for r in c.walk())]


class LangSmithLoopback:
    """The server; ``url`` is ``http://127.0.0.1:<free port>`` once started.

    Args:
        mode: how the client is told to send (:data:`MODES`).
        api_key: the key requests must carry.

    Attributes:
        runs: run id -> the run's fields, merged over its post and patches.
        endpoints: how many run operations arrived through each ingestion path
            (``batch``, ``multipart``, ``multipart+zstd``, ``single``).
        requests: (method, path) of every request, in arrival order.
    """

    def __init__(self, mode: str = "multipart", api_key: str = "lsv2-loopback-key") -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode, self.api_key = mode, api_key
        self.tenant_id = str(uuid.uuid4())
        self.runs: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, str] = {}  # name -> id
        self.endpoints: Counter = Counter()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (``LANGSMITH_ENDPOINT``)."""
        if self._server is None:
            raise RuntimeError("loopback not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def info(self) -> dict[str, Any]:
        """``GET /info``'s answer for this server's mode."""
        return {
            "version": "0.16.0",
            "batch_ingest_config": {"use_multipart_endpoint": self.mode != "batch", "size_limit": 100,
                                    "size_limit_bytes": 20 * 1024 * 1024, "scale_up_qsize_trigger": 1000,
                                    "scale_up_nthreads_limit": 16, "scale_down_nempty_trigger": 4},
            "instance_flags": {"zstd_compression_enabled": self.mode == "zstd"},
        }

    def trees(self) -> list[TracedRun]:
        """The root runs received, each with its descendants; roots and children by start time.

        Raises:
            AssertionError: a run names a parent that never arrived, or its ``trace_id`` /
                ``dotted_order`` disagree with its parent's.
        """
        with self._lock:
            nodes = {rid: TracedRun(dict(data)) for rid, data in self.runs.items()}
        roots = []
        for run in sorted(nodes.values(), key=lambda r: r.data.get("dotted_order", "")):
            parent_id = run.data.get("parent_run_id")
            if not parent_id:
                assert str(run.data.get("trace_id")) == run.id, f"root {run.id} has trace_id {run.data.get('trace_id')}"
                roots.append(run)
                continue
            parent = nodes.get(str(parent_id))
            assert parent is not None, f"run {run.id} ({run.name}) names parent {parent_id}, never received"
            assert run.data.get("trace_id") == parent.data.get("trace_id"), f"run {run.id} is in another trace than its parent"
            assert run.data["dotted_order"].startswith(parent.data["dotted_order"] + "."), f"run {run.id}: bad dotted_order"
            parent.children.append(run)
        return roots

    # -- server ------------------------------------------------------------------------------------
    def start(self) -> LangSmithLoopback:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                loopback._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                loopback._handle(self, "POST")

            def do_PATCH(self) -> None:  # noqa: N802
                loopback._handle(self, "PATCH")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="langsmith-loopback", daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LangSmithLoopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path, query = parts.path.rstrip("/"), parse_qs(parts.query)
        body = _read_body(req)
        with self._lock:
            self.requests.append((method, path))
        if req.headers.get("x-api-key") != self.api_key:
            _send(req, 401, {"detail": "invalid API key"})
            return
        if method == "GET" and path == "/info":
            _send(req, 200, self.info())
        elif method == "POST" and path == "/runs/batch":
            payload = json.loads(body)
            self._ingest("batch", payload.get("post") or [], payload.get("patch") or [])
            _send(req, 202, {})
        elif method == "POST" and path == "/runs/multipart":
            compressed = req.headers.get("Content-Encoding") == "zstd"
            if compressed:
                body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
            posts, patches = _multipart_runs(req.headers["Content-Type"], body)
            self._ingest("multipart+zstd" if compressed else "multipart", posts, patches)
            _send(req, 202, {})
        elif method == "POST" and path == "/runs":
            self._ingest("single", [json.loads(body)], [])
            _send(req, 202, {})
        elif method == "PATCH" and path.startswith("/runs/"):
            self._ingest("single", [], [{**json.loads(body), "id": path.rsplit("/", 1)[1]}])
            _send(req, 202, {})
        elif method == "GET" and path == "/api/v2/sessions":
            name = (query.get("name") or [""])[0]
            with self._lock:
                found = [self._session(name)] if name in self.projects else []
            _send(req, 200, {"items": found, "next_cursor": None})
        elif method == "GET" and path.startswith("/api/v2/runs/") and path.endswith("/url"):
            run_id = path.split("/")[4]
            with self._lock:
                run = self.runs.get(run_id)
                project_id = self.projects.get((run or {}).get("session_name", ""))
            if run is None or (query.get("project_id") or [""])[0] != project_id:
                _send(req, 404, {"detail": f"run {run_id} not found"})
                return
            trace = (query.get("trace_id") or [""])[0]
            _send(req, 200, {"url": f"{self.url}/o/{self.tenant_id}/projects/p/{project_id}/r/{run_id}?trace_id={trace}"})
        else:
            _send(req, 404, {"detail": f"no route {method} {path}"})

    def _session(self, name: str) -> dict[str, Any]:
        return {"id": self.projects[name], "name": name, "start_time": "2026-01-01T00:00:00Z", "tenant_id": self.tenant_id,
                "type": "PROJECT"}

    def _ingest(self, endpoint: str, posts: list[dict], patches: list[dict]) -> None:
        with self._lock:
            self.endpoints[endpoint] += len(posts) + len(patches)
            for run in posts:
                self.runs[str(run["id"])] = {**self.runs.get(str(run["id"]), {}), **run}
                if name := run.get("session_name"):
                    self.projects.setdefault(name, str(uuid.uuid4()))
            for run in patches:
                current = self.runs.setdefault(str(run["id"]), {})
                current.update({k: v for k, v in run.items() if v is not None})


def _read_body(req: BaseHTTPRequestHandler) -> bytes:
    if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while size := int(req.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(req.rfile.read(size))
            req.rfile.readline()
        req.rfile.readline()
        return b"".join(chunks)
    return req.rfile.read(int(req.headers.get("Content-Length") or 0))


def _multipart_runs(content_type: str, body: bytes) -> tuple[list[dict], list[dict]]:
    """The posts and patches of a ``/runs/multipart`` body, each run's parts joined back into one dict."""
    message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        kind, run_id, *rest = name.split(".")
        if kind not in ("post", "patch"):
            continue  # attachments and feedback are not kept
        value = json.loads(part.get_payload(decode=True))
        run = runs.setdefault((kind, run_id), {"id": run_id})
        if rest:
            assert rest[0] in _BIG_FIELDS, f"unexpected multipart part {name}"
            run[rest[0]] = value
        else:
            run.update(value)
    return ([r for (k, _), r in runs.items() if k == "post"], [r for (k, _), r in runs.items() if k == "patch"])


def _send(req: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)
