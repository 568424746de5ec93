"""Our Jira Cloud client: the few REST v3 calls approvals need, over ``atlassian.jira.JiraCloud``.

Jira Cloud platform REST API v3: https://developer.atlassian.com/cloud/jira/platform/rest/v3/
Authentication is basic auth with the account's email and an API token
(https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/).
Rich text (descriptions, comments) is Atlassian Document Format, built with
:mod:`activities.jira_document`.

Every failure surfaces as one of two exceptions, so callers (Temporal activities) only have to
decide "retry later" or "give up":

* :class:`JiraUnavailable`: no answer (connection refused, reset, timeout), a 5xx, a 429, or an
  answer that is not the JSON Jira documents. Retry later.
* :class:`JiraRefused`: any other 4xx (bad credentials, unknown project or issue, invalid
  field, invalid transition); the message carries Jira's ``errorMessages`` and ``errors``.

The client is synchronous (requests) and never retries by itself: retrying is Temporal's job.
Run it in a worker thread; it holds a ``requests.Session``, which requests does not document as
thread-safe, so give each thread its own client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NoReturn
from urllib.parse import quote

import requests
from atlassian.jira import JiraCloud


class JiraError(Exception):
    """A Jira call failed; ``status`` is the HTTP status when Jira answered, else ``None``."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JiraUnavailable(JiraError):
    """Jira did not answer usefully (connection refused or reset, timeout, 5xx, 429, a body that
    is not the documented JSON): the call may be retried later."""


class JiraRefused(JiraError):
    """Jira answered with a 4xx other than 429: retrying the same call will not help."""


@dataclass(frozen=True)
class JiraIssueRef:
    """An issue: ``key`` (``"APPR-12"``), numeric ``id`` (as a string) and the browser ``url``
    (``<site>/browse/<key>``)."""

    key: str
    id: str
    url: str


class JiraClient:
    """The Jira calls approvals make, with errors mapped to :class:`JiraUnavailable` /
    :class:`JiraRefused`.

    Args:
        url: site base URL, e.g. ``https://bank.atlassian.net`` (http or https).
        email: the Atlassian account email of the bot user.
        api_token: that account's API token (sent as the basic-auth password).
        timeout_s: seconds allowed to connect, and again for each read of the answer (requests'
            timeout semantics: not a total deadline). Must be > 0.

    Raises ``ValueError`` for a URL that is not http(s) or a non-positive timeout.
    """

    def __init__(self, url: str, email: str, api_token: str, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Jira URL must start with http:// or https://, got {url!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.base_url = url.rstrip("/")
        self._jira = JiraCloud(
            self.base_url, username=email, password=api_token, api_version=3, timeout=timeout_s,
            # The library's own retries would hide outages from Temporal and can block a worker
            # thread: on a 429 with Retry-After it sleeps up to max_backoff_seconds (1800 s) once.
            backoff_and_retry=False, retry_with_header=False,
        )
        # AtlassianRestAPI stores int(timeout), which turns 0.5 s into 0 (requests then fails at
        # once) and 2.5 s into 2; requests itself takes the float, and request() passes this field.
        self._jira.timeout = timeout_s

    def myself(self) -> dict:
        """``GET /rest/api/3/myself``: the authenticated account, ``{"accountId", "displayName",
        "emailAddress", "accountType", "active", ...}``. Raises JiraRefused (401) on bad
        credentials, JiraUnavailable when Jira cannot be reached."""
        answer = self._call("GET myself", self._jira.get_current_user)
        _require(answer, "GET myself", "accountId")
        return answer

    def find_by_label(self, project: str, label: str) -> JiraIssueRef | None:
        """The oldest issue of ``project`` carrying ``label``, or ``None``: enhanced JQL search
        ``GET /rest/api/3/search/jql`` with ``project = "X" AND labels = "L" ORDER BY created ASC``
        (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/).

        Oldest first, so callers that find duplicates all settle on the same issue. Jira Cloud's
        search is eventually consistent: an issue created seconds ago may not be found yet
        (https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile/).
        Raises JiraRefused (400) for an unknown project.
        """
        jql = f"project = {_jql_string(project)} AND labels = {_jql_string(label)} ORDER BY created ASC"
        answer = self._call("search issues", self._jira.enhanced_jql, jql, fields=["summary"], limit=1)
        issues = _require(answer, "search issues", "issues")
        if not isinstance(issues, list):
            _unexpected("search issues", answer)
        if not issues:
            return None
        return self._ref("search issues", issues[0])

    def create_issue(self, project: str, issue_type: str, summary: str, description: dict,
                     labels: list[str]) -> JiraIssueRef:
        """``POST /rest/api/3/issue`` with ``{"fields": {"project": {"key"}, "issuetype": {"name"},
        "summary", "description": <ADF doc>, "labels": [...]}}``; Jira answers 201
        ``{"id", "key", "self"}``
        (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post).

        Not idempotent: when the answer is lost (JiraUnavailable) the issue may exist anyway, so
        label it and look it up with :meth:`find_by_label` before creating again. Labels must not
        contain spaces. Raises JiraRefused (400) for an unknown project or issue type or an
        invalid field.
        """
        fields = {"project": {"key": project}, "issuetype": {"name": issue_type}, "summary": summary,
                  "description": description, "labels": list(labels)}
        answer = self._call("create issue", self._jira.create_issue, data={"fields": fields})
        return self._ref("create issue", answer)

    def comment(self, key: str, body: dict) -> str:
        """``POST /rest/api/3/issue/{key}/comment`` with ``{"body": <ADF doc>}``; returns the new
        comment's id
        (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post).
        Raises JiraRefused (404) for an unknown issue."""
        answer = self._call("add comment", self._jira.add_comment, _path(key), data={"body": body})
        return str(_require(answer, "add comment", "id"))

    def status(self, key: str) -> str:
        """Name of the issue's current status (``fields.status.name`` of
        ``GET /rest/api/3/issue/{key}?fields=status``). Raises JiraRefused (404) for an unknown
        issue."""
        answer = self._call("get issue", self._jira.get_issue, _path(key), fields="status")
        fields = _require(answer, "get issue", "fields")
        try:
            return str(fields["status"]["name"])
        except (KeyError, TypeError):
            _unexpected("get issue", answer)

    def transition_to(self, key: str, status_name: str) -> bool:
        """Move the issue to the status named ``status_name`` (case-insensitive).

        True without any POST when the issue is already there. Otherwise lists the transitions
        available from its current status (``GET /rest/api/3/issue/{key}/transitions``), takes
        the one whose ``to.name`` matches and performs it (``POST`` ``{"transition": {"id"}}``,
        204), returning True; False when no available transition leads there
        (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-post).
        Raises JiraRefused when Jira rejects the transition (e.g. someone moved the issue in
        between and it is no longer valid).
        """
        wanted = status_name.casefold()
        if self.status(key).casefold() == wanted:
            return True
        answer = self._call("get transitions", self._jira.get_transitions, _path(key))
        transitions = _require(answer, "get transitions", "transitions")
        if not isinstance(transitions, list):
            _unexpected("get transitions", answer)
        for transition in transitions:
            target = transition.get("to") if isinstance(transition, dict) else None
            if isinstance(target, dict) and str(target.get("name", "")).casefold() == wanted:
                self._call("transition issue", self._jira.do_transition, _path(key),
                           data={"transition": {"id": transition["id"]}})
                return True
        return False

    def _ref(self, what: str, answer: Any) -> JiraIssueRef:
        key = str(_require(answer, what, "key"))
        return JiraIssueRef(key=key, id=str(_require(answer, what, "id")), url=f"{self.base_url}/browse/{key}")

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one library call, mapping requests' exceptions to ours."""
        try:
            return method(*args, **kwargs)
        except requests.HTTPError as exc:
            raise _http_error(what, exc) from exc
        except requests.RequestException as exc:
            # ConnectionError (refused, reset, dropped), Timeout, ChunkedEncodingError...: the
            # URL was validated up front, so what is left is the network or the server.
            raise JiraUnavailable(f"{what}: Jira did not answer ({type(exc).__name__}: {exc})") from exc


def _http_error(what: str, exc: requests.HTTPError) -> JiraError:
    """JiraUnavailable for 429/5xx, JiraRefused for other 4xx, with Jira's error collection
    (``{"errorMessages": [...], "errors": {field: message}}``) in the message."""
    response = exc.response
    status = response.status_code if response is not None else None
    detail = _error_detail(response) if response is not None else str(exc)
    message = f"{what}: HTTP {status}: {detail}"
    if status is None or status == 429 or status >= 500:
        return JiraUnavailable(message, status)
    return JiraRefused(message, status)


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason or ""
    if not isinstance(body, dict):
        return str(body)[:300]
    messages = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        messages += [f"{field}: {message}" for field, message in errors.items()]
    return "; ".join(messages) or str(body)[:300]


def _require(answer: Any, what: str, field: str) -> Any:
    """``answer[field]``, or JiraUnavailable when the answer is not the documented JSON object
    (a proxy's HTML page, a truncated body): a transient fault, not a refusal."""
    if not isinstance(answer, dict) or field not in answer:
        _unexpected(what, answer)
    return answer[field]


def _unexpected(what: str, answer: Any) -> NoReturn:
    raise JiraUnavailable(f"{what}: unexpected answer from Jira: {str(answer)[:300]!r}")


def _path(key: str) -> str:
    """The issue key as one URL path segment (the library pastes it into the path unescaped)."""
    return quote(key, safe="")


def _jql_string(value: str) -> str:
    """A JQL string literal: double-quoted, with ``\\`` and ``"`` backslash-escaped
    (https://support.atlassian.com/jira-software-cloud/docs/use-advanced-search-with-jira-query-language-jql/)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
