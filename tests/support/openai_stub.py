"""A loopback server speaking the OpenAI chat-completions API, for tests of the LLM path.

``POST /v1/chat/completions`` answers like OpenAI does: when the request offers tools it
returns a tool call (to the forced tool of ``tool_choice``, else the first tool) whose
arguments fill every enum parameter with :attr:`OpenAIStub.option` when set, else the
enum's first value; otherwise it returns :attr:`OpenAIStub.text`. Every response carries
``usage`` token counts (prompt: whitespace-separated words of all message contents, plus
one per tool; completion: words of the answer) and every request body is recorded.
``"stream": true`` is answered with server-sent events, including the usage chunk when
``stream_options.include_usage`` is set.

Use::

    with OpenAIStub() as stub:
        use_stub(monkeypatch, stub)          # OPENAI_BASE_URL/API_KEY, fresh model cache
        ...                                  # init_chat_model("openai:gpt-4o-mini") talks to it
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    """The server; ``base_url`` is ``http://127.0.0.1:<free port>/v1`` once started.

    Attributes:
        option: value given to enum tool arguments (may be deliberately invalid), or ``None``
            for the enum's first value.
        text: the assistant's answer when no tool is offered.
        requests: recorded request bodies (parsed JSON), in arrival order.
        usages: the ``usage`` object of each response, in the same order.
    """

    def __init__(self, text: str = "Stub narrative: the facts were reviewed.", option: str | None = None):
        self.text = text
        self.option = option
        self.requests: list[dict] = []
        self.usages: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL of the running server."""
        if self._server is None:
            raise RuntimeError("stub not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIStub:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                completion = stub._complete(body)
                if body.get("stream"):
                    self._stream(completion, bool((body.get("stream_options") or {}).get("include_usage")))
                else:
                    self._send(200, completion)

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, completion: dict, include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in _chunks(completion, include_usage):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _complete(self, body: dict) -> dict:
        tools = body.get("tools") or []
        if tools:
            tool = _chosen_tool(tools, body.get("tool_choice"))
            args = _arguments(tool["function"].get("parameters") or {}, self.option)
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{uuid.uuid4().hex[:12]}",
                        "type": "function",
                        "function": {"name": tool["function"]["name"], "arguments": json.dumps(args)},
                    }
                ],
            }
            finish, answer_words = "tool_calls", len(json.dumps(args).split())
        else:
            message = {"role": "assistant", "content": self.text}
            finish, answer_words = "stop", len(self.text.split())
        prompt_words = sum(len(_content_text(m.get("content")).split()) for m in body.get("messages", [])) + len(tools)
        usage = {"prompt_tokens": prompt_words, "completion_tokens": answer_words, "total_tokens": prompt_words + answer_words}
        with self._lock:
            self.requests.append(body)
            self.usages.append(usage)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }


def use_stub(monkeypatch: Any, stub: OpenAIStub) -> None:
    """Point the OpenAI client at ``stub`` for one test; ``monkeypatch`` undoes it.

    Sets ``OPENAI_BASE_URL`` and a dummy ``OPENAI_API_KEY`` and gives the test its own model
    cache, so no chat model bound to this stub outlives the test.
    """
    from langchain.chat_models import init_chat_model

    from reference_agents.common import llm

    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback")
    llm.clear_model_cache()
    monkeypatch.setattr(llm, "_cached_model", functools.lru_cache(maxsize=32)(init_chat_model))


def _chosen_tool(tools: list[dict], tool_choice: Any) -> dict:
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        for tool in tools:
            if tool["function"]["name"] == name:
                return tool
    return tools[0]


def _arguments(schema: dict, option: str | None) -> dict:
    args = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "enum" in prop:
            args[name] = option if option is not None else prop["enum"][0]
        elif prop.get("type") in ("number", "integer"):
            args[name] = 0
        elif prop.get("type") == "boolean":
            args[name] = False
        else:
            args[name] = option if option is not None else "stub"
    return args


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _chunks(completion: dict, include_usage: bool) -> list[dict]:
    message = completion["choices"][0]["message"]
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    delta: dict = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        delta["tool_calls"] = [dict(call, index=i) for i, call in enumerate(message["tool_calls"])]
    chunks = [
        base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": completion["choices"][0]["finish_reason"]}]},
    ]
    if include_usage:
        chunks.append(base | {"choices": [], "usage": completion["usage"]})
    return chunks
