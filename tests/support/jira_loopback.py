"""A loopback Jira Cloud for tests and benchmarks: real HTTP on 127.0.0.1 speaking the parts of
the Jira Cloud platform REST API v3 that approvals use, plus helpers that build the webhooks
Jira would send.

REST shapes follow https://developer.atlassian.com/cloud/jira/platform/rest/v3/ (issues,
issue search, issue comments, myself); rich text is Atlassian Document Format
(https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/). Every endpoint
needs basic auth with the configured email and API token; errors use Jira's error collection
``{"errorMessages": [...], "errors": {field: message}}``.

Endpoints, all under ``/rest/api/3``:

* ``POST /issue``: validates project, summary, issue type, ADF description and labels; 201
  ``{"id", "key", "self"}``. New issues start in the first of ``statuses``.
* ``GET /search/jql``: only ``project = X AND labels = Y [ORDER BY created|key [ASC|DESC]]``
  (values bare, ``"double"`` or ``'single'`` quoted), ``fields``, ``maxResults``,
  ``nextPageToken``; answers ``{"issues": [...], "isLast": bool[, "nextPageToken"]}``.
* ``GET /issue/{key}`` (``fields``), ``POST /issue/{key}/comment`` (``{"body": <ADF>}``, 201),
  ``GET|POST /issue/{key}/transitions`` (one transition to every other status; POST 204),
  ``GET /myself``.

Webhooks (https://developer.atlassian.com/cloud/jira/platform/webhooks/):
:meth:`LoopbackJira.issue_updated_payload` builds a ``jira:issue_updated`` body the way Jira
delivers it (REST v2 representation: ``self`` links under ``/rest/api/2``, the comment ``body``
a plain string), and :func:`webhook_headers` the headers of an admin webhook with a secret.

Use::

    with LoopbackJira() as jira:
        client = JiraClient(jira.url, jira.email, jira.api_token)
        ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from activities.jira_document import doc, paragraph, plain_text

API_ROOT = "/rest/api/3"
# What Jira Cloud sends; atlassian-python-api only parses a 401 body with exactly this type.
JSON_TYPE = "application/json;charset=UTF-8"
FAILURE_MODES = ("503", "429", "lose_response")

_TODO = {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}
_DONE = {"id": 3, "key": "done", "colorName": "green", "name": "Done"}


class _Answer(NamedTuple):
    status: int
    body: dict | None = None
    headers: dict[str, str] = {}


def _error(status: int, *messages: str, errors: dict[str, str] | None = None) -> _Answer:
    """An answer in Jira's error-collection shape."""
    return _Answer(status, {"errorMessages": list(messages), "errors": errors or {}})


class LoopbackJira:
    """The server; :attr:`url` is ``http://127.0.0.1:<free port>`` once started.

    Attributes:
        issues: key -> ``{"id", "key", "fields": {"summary", "description", "labels",
            "project": {"key"}, "issuetype": {"name"}, "status": {"name"}}, "comments": [ADF]}``.
        requests: ``(method, path)`` of every request received, in arrival order (query strings
            left out), including refused and failed ones.
        down: while True every request is answered 503 without acting.
    """

    def __init__(self, email: str = "shipway-bot@bank.example", api_token: str = "token-123",
                 project: str = "APPR", statuses: tuple[str, ...] = ("Awaiting approval", "Approved", "Rejected"),
                 account_id: str = "bot-account-1") -> None:
        self.email = email
        self.api_token = api_token
        self.project = project
        self.statuses = tuple(statuses)
        self.account_id = account_id
        self.display_name = "Shipway bot"
        self.issues: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.down = False
        self._failures: deque[str] = deque()
        self._lock = threading.RLock()
        self._issue_seq = 0
        self._comment_seq = 10000
        self._changelog_seq = 10000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("loopback Jira not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackJira:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        jira = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0 (the default): one request per connection, so no kept-alive connection
            # outlives stop() and "stopped" really means connection refused.
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = jira._answer(method, self.path, self.headers.get("Authorization"), body)
                if answer is None:  # lose_response: close without a byte of answer
                    self.close_connection = True
                    return
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                if answer.body is not None:
                    self.send_header("Content-Type", JSON_TYPE)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for the serve loop's next poll: a short interval keeps stop() quick.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="jira-loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; later connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LoopbackJira:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, n: int, mode: str = "503") -> None:
        """Make the next ``n`` requests fail: ``"503"`` answers 503 without acting; ``"429"``
        answers 429 with ``Retry-After: 1`` without acting; ``"lose_response"`` acts (creates the
        issue, adds the comment...) and then closes the connection without answering, so the
        caller cannot know it succeeded."""
        if mode not in FAILURE_MODES:
            raise ValueError(f"mode must be one of {FAILURE_MODES}, got {mode!r}")
        with self._lock:
            self._failures.extend([mode] * n)

    def comments_text(self, key: str) -> list[str]:
        """Plain text of each comment of the issue, oldest first."""
        with self._lock:
            return [plain_text(body) for body in self.issues[key]["comments"]]

    def set_status(self, key: str, status: str) -> None:
        """Move the issue as a Jira user would in the UI (no webhook is sent)."""
        with self._lock:
            self._check_status(status)
            self.issues[key]["fields"]["status"] = {"name": status}

    def issue_updated_payload(self, key: str, to_status: str, account_id: str, display_name: str = "",
                              comment: str | None = None) -> dict:
        """Move the issue to ``to_status`` as user ``account_id`` (optionally commenting) and return
        the ``jira:issue_updated`` webhook body Jira would deliver for it.

        Shape: ``{"timestamp": <ms>, "webhookEvent": "jira:issue_updated", "issue_event_type_name":
        "issue_generic", "user": {"accountId", "displayName", ...}, "issue": {"id", "self", "key",
        "fields": {"status": {"name", "id", ...}, "summary", "labels", ...}}, "changelog": {"id",
        "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from", "fromString",
        "to", "toString"}]}, "comment": {"id", "body": <plain string>, "author": {"accountId", ...},
        ...}}``. ``comment`` is present only when given (it is also stored on the issue). When the
        issue is already in ``to_status`` only a comment happened: ``issue_event_type_name`` is
        ``"issue_commented"`` and there is no changelog (``ValueError`` without a comment).
        """
        with self._lock:
            self._check_status(to_status)
            issue = self.issues[key]
            from_status = issue["fields"]["status"]["name"]
            moved = from_status != to_status
            if not moved and comment is None:
                raise ValueError(f"{key} is already {to_status!r} and no comment was given: nothing happens")
            issue["fields"]["status"] = {"name": to_status}
            user = self._user_json(account_id, display_name or account_id, api=2)
            payload: dict[str, Any] = {
                "timestamp": int(time.time() * 1000),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic" if moved else "issue_commented",
                "user": user,
                "issue": self._issue_json(issue, None, api=2),
            }
            if moved:
                self._changelog_seq += 1
                payload["changelog"] = {"id": str(self._changelog_seq), "items": [{
                    "field": "status", "fieldtype": "jira", "fieldId": "status",
                    "from": self._status_id(from_status), "fromString": from_status,
                    "to": self._status_id(to_status), "toString": to_status,
                }]}
            if comment is not None:
                comment_id = self._new_comment_id()
                issue["comments"].append(doc(paragraph(comment)))
                now = _jira_time()
                payload["comment"] = {
                    "self": f"{self.url}/rest/api/2/issue/{issue['id']}/comment/{comment_id}",
                    "id": comment_id, "author": user, "body": comment, "updateAuthor": user,
                    "created": now, "updated": now, "jsdPublic": True,
                }
            return payload

    # --- request handling (server threads) ---

    def _answer(self, method: str, target: str, authorization: str | None, body: bytes) -> _Answer | None:
        """The answer to one request, or ``None`` to drop the connection unanswered."""
        parts = urlsplit(target)
        with self._lock:
            self.requests.append((method, parts.path))
            if self.down:
                return _error(503, "Service Unavailable")
            mode = self._failures.popleft() if self._failures else None
        if mode == "503":
            return _error(503, "Service Unavailable")
        if mode == "429":
            return _Answer(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, {"Retry-After": "1"})
        if not self._authorized(authorization):
            return _error(401, "Client must be authenticated to access this resource.")
        with self._lock:
            answer = self._route(method, parts.path, parse_qs(parts.query), body)
        return None if mode == "lose_response" else answer

    def _authorized(self, header: str | None) -> bool:
        """Basic auth ``base64(email:api_token)``, as Jira Cloud documents for API tokens."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[len("Basic "):], validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, f"{self.email}:{self.api_token}".encode())

    def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> _Answer:
        if not path.startswith(API_ROOT + "/"):
            return _error(404, "No REST resource at this path.")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _error(400, "Unexpected character in the request body: not JSON.")
        segments = [unquote(s) for s in path[len(API_ROOT) + 1:].split("/")]
        match segments, method:
            case ["myself"], "GET":
                return _Answer(200, self._user_json(self.account_id, self.display_name, api=3, email=self.email))
            case ["search", "jql"], "GET":
                return self._search(query)
            case ["issue"], "POST":
                return self._create(body)
            case ["issue", key], "GET":
                issue = self._find(key)
                return _Answer(200, self._issue_json(issue, _fields(query, default_all=True), api=3)) if issue else _no_issue()
            case ["issue", key, "comment"], "POST":
                return self._add_comment(key, body)
            case ["issue", key, "transitions"], "GET":
                issue = self._find(key)
                return _Answer(200, {"transitions": self._transitions(issue)}) if issue else _no_issue()
            case ["issue", key, "transitions"], "POST":
                return self._transition(key, body)
            case (["myself"] | ["search", "jql"] | ["issue"] | ["issue", _] | ["issue", _, "comment" | "transitions"]), _:
                return _error(405, f"Method {method} is not allowed here.")
        return _error(404, "No REST resource at this path.")

    def _create(self, body: Any) -> _Answer:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _error(400, "Issue fields are required: {\"fields\": {...}}.")
        errors: dict[str, str] = {}
        project = fields.get("project")
        if not (isinstance(project, dict) and project.get("key") == self.project):
            errors["project"] = "Specify a valid project ID or key"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        issuetype = fields.get("issuetype")
        if not (isinstance(issuetype, dict) and isinstance(issuetype.get("name"), str) and issuetype["name"]):
            errors["issuetype"] = "Specify an issue type"
        description = fields.get("description")
        if description is not None and (problem := adf_problem(description)):
            errors["description"] = f"Operation value must be an Atlassian Document (see the Atlassian Document Format): {problem}"
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(label, str) and label and " " not in label for label in labels):
            errors["labels"] = "Labels must be a list of non-empty strings without spaces."
        if errors:
            return _error(400, errors=errors)
        self._issue_seq += 1
        key, issue_id = f"{self.project}-{self._issue_seq}", str(10000 + self._issue_seq)
        self.issues[key] = {
            "id": issue_id, "key": key,
            "fields": {"summary": summary, "description": description, "labels": list(labels),
                       "project": {"key": self.project}, "issuetype": {"name": issuetype["name"]},
                       "status": {"name": self.statuses[0]}},
            "comments": [],
        }
        return _Answer(201, {"id": issue_id, "key": key, "self": f"{self.url}{API_ROOT}/issue/{issue_id}"})

    def _search(self, query: dict[str, list[str]]) -> _Answer:
        jql = " ".join(query.get("jql", []))
        found = _JQL.match(jql)
        if not found:
            return _error(400, "Error in the JQL Query: the loopback supports only "
                               "project = X AND labels = Y [ORDER BY created|key [ASC|DESC]].")
        project, label = _jql_value(found["project"]), _jql_value(found["label"])
        if project != self.project:
            return _error(400, f"The value '{project}' does not exist for the field 'project'.")
        try:
            limit = min(max(int(query.get("maxResults", ["50"])[0]), 1), 5000)
            start = int(query.get("nextPageToken", ["0"])[0])
        except ValueError:
            return _error(400, "maxResults and nextPageToken must be integers here.")
        matches = [issue for issue in self.issues.values() if label in issue["fields"]["labels"]]
        if (found["direction"] or "ASC").upper() == "DESC":
            matches.reverse()
        wanted = _fields(query, default_all=False)
        page = matches[start:start + limit]
        answer: dict[str, Any] = {"issues": [self._issue_json(issue, wanted, api=3) for issue in page],
                                  "isLast": start + limit >= len(matches)}
        if not answer["isLast"]:
            answer["nextPageToken"] = str(start + limit)
        return _Answer(200, answer)

    def _add_comment(self, key: str, body: Any) -> _Answer:
        issue = self._find(key)
        if issue is None:
            return _no_issue()
        adf = body.get("body") if isinstance(body, dict) else None
        if (problem := adf_problem(adf)) is not None:
            return _error(400, errors={"comment": f"Comment body must be an Atlassian Document: {problem}"})
        issue["comments"].append(adf)
        comment_id = self._new_comment_id()
        author = self._user_json(self.account_id, self.display_name, api=3)
        now = _jira_time()
        return _Answer(201, {"self": f"{self.url}{API_ROOT}/issue/{issue['id']}/comment/{comment_id}",
                             "id": comment_id, "author": author, "body": adf, "updateAuthor": author,
                             "created": now, "updated": now, "jsdPublic": True})

    def _transitions(self, issue: dict) -> list[dict]:
        current = issue["fields"]["status"]["name"]
        return [{"id": _transition_id(i), "name": f"Move to {status}", "to": self._status_json(status, api=3),
                 "hasScreen": False, "isGlobal": True, "isInitial": False, "isAvailable": True,
                 "isConditional": False, "isLooped": False}
                for i, status in enumerate(self.statuses) if status != current]

    def _transition(self, key: str, body: Any) -> _Answer:
        issue = self._find(key)
        if issue is None:
            return _no_issue()
        wanted = (body.get("transition") or {}).get("id") if isinstance(body, dict) else None
        for transition in self._transitions(issue):
            if transition["id"] == str(wanted):
                issue["fields"]["status"] = {"name": transition["to"]["name"]}
                return _Answer(204)
        return _error(400, f"Transition id '{wanted}' is not valid for this issue.")

    # --- JSON renderings ---

    def _find(self, key_or_id: str) -> dict | None:
        if key_or_id in self.issues:
            return self.issues[key_or_id]
        return next((issue for issue in self.issues.values() if issue["id"] == key_or_id), None)

    def _issue_json(self, issue: dict, wanted: set[str] | None, api: int) -> dict:
        """An issue as REST ``api`` renders it; ``wanted`` field names, or ``None`` for all. The v2
        (webhook) rendering has the description as plain text instead of ADF."""
        stored = issue["fields"]
        description = stored["description"]
        if api == 2 and description is not None:
            description = plain_text(description)
        fields = {
            "summary": stored["summary"],
            "description": description,
            "labels": list(stored["labels"]),
            "project": {"self": f"{self.url}/rest/api/{api}/project/10000", "id": "10000",
                        "key": self.project, "name": self.project, "projectTypeKey": "business"},
            "issuetype": {"self": f"{self.url}/rest/api/{api}/issuetype/10001", "id": "10001",
                          "name": stored["issuetype"]["name"], "subtask": False},
            "status": self._status_json(stored["status"]["name"], api),
        }
        if wanted is not None:
            fields = {name: value for name, value in fields.items() if name in wanted}
        rendered = {"id": issue["id"], "self": f"{self.url}/rest/api/{api}/issue/{issue['id']}",
                    "key": issue["key"], "fields": fields}
        if api == 3:  # REST answers carry expand options; webhook bodies do not
            rendered = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                        **rendered}
        return rendered

    def _status_json(self, name: str, api: int) -> dict:
        category = _TODO if name == self.statuses[0] else _DONE
        return {"self": f"{self.url}/rest/api/{api}/status/{self._status_id(name)}", "description": "",
                "iconUrl": f"{self.url}/images/icons/statuses/generic.png", "name": name,
                "id": self._status_id(name),
                "statusCategory": {"self": f"{self.url}/rest/api/{api}/statuscategory/{category['id']}", **category}}

    def _status_id(self, name: str) -> str:
        return str(10000 + self.statuses.index(name))

    def _user_json(self, account_id: str, display_name: str, api: int, email: str | None = None) -> dict:
        user = {"self": f"{self.url}/rest/api/{api}/user?accountId={account_id}", "accountId": account_id,
                "avatarUrls": {size: f"{self.url}/avatar/{account_id}?s={size}" for size in ("48x48", "24x24", "16x16", "32x32")},
                "displayName": display_name, "active": True, "timeZone": "UTC", "accountType": "atlassian"}
        if email is not None:
            user["emailAddress"] = email
        return user

    def _new_comment_id(self) -> str:
        self._comment_seq += 1
        return str(self._comment_seq)

    def _check_status(self, status: str) -> None:
        if status not in self.statuses:
            raise ValueError(f"unknown status {status!r}; this Jira has {self.statuses}")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature`` Jira puts on a webhook registered with a secret:
    ``"sha256=" + hex(HMAC-SHA256(secret, body))`` over the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(body: bytes, secret: str | None, identifier: str | None = None, retry: int = 0) -> dict[str, str]:
    """Headers of a webhook delivery: ``Content-Type``, ``X-Hub-Signature`` (only with a secret),
    ``X-Atlassian-Webhook-Identifier`` (unique per delivery and unchanged on its retries; a new
    uuid4 when ``identifier`` is None), ``X-Atlassian-Webhook-Flow: Primary`` and, for a retry,
    ``X-Atlassian-Webhook-Retry: <retry count>``."""
    headers = {"Content-Type": "application/json",
               "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4()),
               "X-Atlassian-Webhook-Flow": "Primary"}
    if secret is not None:
        headers["X-Hub-Signature"] = sign(body, secret)
    if retry > 0:
        headers["X-Atlassian-Webhook-Retry"] = str(retry)
    return headers


def adf_problem(document: Any) -> str | None:
    """Why ``document`` is not a valid ADF doc for Jira (``None`` when it is): root ``type`` "doc",
    ``version`` 1, ``content`` a list; every node a dict with a string ``type``; text nodes
    non-empty with well-formed marks (none inside a codeBlock); heading levels 1..6."""
    if not isinstance(document, dict) or document.get("type") != "doc":
        return "the root node must be {\"type\": \"doc\", ...}"
    if document.get("version") != 1:
        return "version must be 1"
    if not isinstance(document.get("content"), list):
        return "content must be a list"
    return _nodes_problem(document["content"], "content", in_code=False)


def _nodes_problem(nodes: list, where: str, in_code: bool) -> str | None:
    for i, node in enumerate(nodes):
        at = f"{where}[{i}]"
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return f"{at}: a node must be an object with a string type"
        if node["type"] == "text":
            if not isinstance(node.get("text"), str) or not node["text"]:
                return f"{at}: text nodes must not be empty"
            marks = node.get("marks", [])
            if not isinstance(marks, list) or not all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in marks):
                return f"{at}: marks must be a list of objects with a type"
            if in_code and marks:
                return f"{at}: text inside a codeBlock takes no marks"
        if node["type"] == "heading" and (node.get("attrs") or {}).get("level") not in range(1, 7):
            return f"{at}: heading level must be 1..6"
        if "content" in node:
            if not isinstance(node["content"], list):
                return f"{at}.content must be a list"
            if problem := _nodes_problem(node["content"], f"{at}.content", in_code or node["type"] == "codeBlock"):
                return problem
    return None


_JQL_VALUE = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[^\s"\']+'
_JQL = re.compile(
    rf"^\s*project\s*=\s*(?P<project>{_JQL_VALUE})\s+AND\s+labels\s*=\s*(?P<label>{_JQL_VALUE})"
    r"(?:\s+ORDER\s+BY\s+(?:created|key)(?:\s+(?P<direction>ASC|DESC))?)?\s*$",
    re.IGNORECASE,
)


def _jql_value(token: str) -> str:
    """A JQL value token without its quotes and backslash escapes."""
    if token[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _fields(query: dict[str, list[str]], default_all: bool) -> set[str] | None:
    """The ``fields`` parameter as a set of names, ``None`` meaning all (``*all``, ``*navigable``,
    or absent when ``default_all``; enhanced search returns only ids and keys by default)."""
    names = {name.strip() for value in query.get("fields", []) for name in value.split(",") if name.strip()}
    if names & {"*all", "*navigable"} or (not names and default_all):
        return None
    return names


def _transition_id(status_index: int) -> str:
    # Jira's simplified workflows number their transitions 11, 21, 31...
    return str(11 + 10 * status_index)


def _no_issue() -> _Answer:
    return _error(404, "Issue does not exist or you do not have permission to see it.")


def _jira_time() -> str:
    """Now as Jira writes timestamps: ``2024-05-01T12:00:00.000+0000``."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
