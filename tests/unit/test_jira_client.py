"""JiraClient (atlassian-python-api, REST v3) against the loopback Jira over real HTTP, the ADF
builder, and the webhook payload/signature helpers."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest

from activities import jira_document as adf
from activities.jira_client import JiraClient, JiraIssueRef, JiraRefused, JiraUnavailable
from tests.support.jira_loopback import LoopbackJira, adf_problem, sign, webhook_headers

LABEL = "shipway-approval-credit-memo-3"


@pytest.fixture
def jira():
    with LoopbackJira() as server:
        yield server


@pytest.fixture
def client(jira):
    return JiraClient(jira.url, jira.email, jira.api_token, timeout_s=2.0)


def _description() -> dict:
    return adf.doc(adf.heading("credit-memo v3"), adf.paragraph("Approve ", adf.text("the diff", href="https://shipway.example/d/3")),
                   adf.bullet_list(["tests pass", "eval 0.93"]), adf.code_block("shipway approve credit-memo 3", "shell"))


def _create(client: JiraClient, label: str = LABEL) -> JiraIssueRef:
    return client.create_issue("APPR", "Task", "Approve credit-memo v3", _description(), [label])


def test_create_then_find_by_label(jira, client):
    ref = _create(client)
    assert ref == JiraIssueRef(key="APPR-1", id="10001", url=f"{jira.url}/browse/APPR-1")
    stored = jira.issues["APPR-1"]["fields"]
    assert stored["description"] == _description() and stored["labels"] == [LABEL]
    assert stored["status"] == {"name": "Awaiting approval"}
    assert client.find_by_label("APPR", LABEL) == ref
    assert client.find_by_label("APPR", "some-other-label") is None
    with pytest.raises(JiraRefused) as refused:
        client.find_by_label("NOPE", LABEL)
    assert refused.value.status == 400 and "NOPE" in str(refused.value)


def test_find_by_label_takes_the_oldest_of_duplicates(jira, client):
    first, _second = _create(client), _create(client)
    assert client.find_by_label("APPR", LABEL) == first


def test_create_refusals_carry_jira_errors(jira, client):
    with pytest.raises(JiraRefused) as bad_project:
        client.create_issue("OTHER", "Task", "s", _description(), [])
    assert bad_project.value.status == 400 and "project: Specify a valid project ID or key" in str(bad_project.value)
    empty_text = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}
    with pytest.raises(JiraRefused, match="description: .*must not be empty"):
        client.create_issue("APPR", "Task", "s", empty_text, [])
    with pytest.raises(JiraRefused, match="labels"):
        client.create_issue("APPR", "Task", "s", _description(), ["has space"])
    assert jira.issues == {}


def test_comment_lands_as_adf(jira, client):
    ref = _create(client)
    body = adf.doc(adf.paragraph("Decision recorded by ", adf.text("Shipway", href="https://shipway.example")),
                   adf.bullet_list(["approver: ana", "reason: fine"]))
    comment_id = client.comment(ref.key, body)
    assert comment_id.isdigit()
    assert jira.issues[ref.key]["comments"] == [body]
    assert jira.comments_text(ref.key) == ["Decision recorded by Shipway\n- approver: ana\n- reason: fine"]
    with pytest.raises(JiraRefused) as unknown:
        client.comment("APPR-99", body)
    assert unknown.value.status == 404


def test_transition_to(jira, client):
    ref = _create(client)
    assert client.status(ref.key) == "Awaiting approval"
    assert client.transition_to(ref.key, "approved") is True  # case-insensitive, by the target status
    assert client.status(ref.key) == "Approved"
    assert ("POST", f"/rest/api/3/issue/{ref.key}/transitions") in jira.requests

    jira.requests.clear()
    assert client.transition_to(ref.key, "Approved") is True
    assert all(method == "GET" for method, _ in jira.requests)  # already there: no POST

    assert client.transition_to(ref.key, "Shipped") is False
    assert client.status(ref.key) == "Approved"

    jira.set_status(ref.key, "Rejected")  # someone moved it in the UI
    assert client.status(ref.key) == "Rejected"
    with pytest.raises(JiraRefused) as unknown:
        client.status("APPR-99")
    assert unknown.value.status == 404


def test_myself(jira, client):
    me = client.myself()
    assert me["accountId"] == "bot-account-1" and me["emailAddress"] == jira.email and me["active"] is True


def test_wrong_token_is_refused(jira):
    with pytest.raises(JiraRefused) as refused:
        JiraClient(jira.url, jira.email, "wrong-token").myself()
    assert refused.value.status == 401 and "must be authenticated" in str(refused.value)


def test_down_is_unavailable_and_not_retried(jira, client):
    jira.down = True
    with pytest.raises(JiraUnavailable) as unavailable:
        client.myself()
    assert unavailable.value.status == 503
    assert len(jira.requests) == 1  # the library did not retry: Temporal does
    jira.down = False
    assert client.myself()["accountId"] == "bot-account-1"


def test_503_then_recovery(jira, client):
    jira.fail_next(1, "503")
    with pytest.raises(JiraUnavailable):
        _create(client)
    assert jira.issues == {}  # a 503 did not act
    assert _create(client).key == "APPR-1"


def test_429_is_unavailable_without_sleeping_on_retry_after(jira, client):
    jira.fail_next(1, "429")
    started = time.monotonic()
    with pytest.raises(JiraUnavailable) as unavailable:
        client.myself()
    assert unavailable.value.status == 429
    assert time.monotonic() - started < 0.5 and len(jira.requests) == 1


def test_stopped_server_is_unavailable(jira):
    client = JiraClient(jira.url, jira.email, jira.api_token, timeout_s=2.0)
    jira.stop()
    with pytest.raises(JiraUnavailable) as unavailable:
        client.myself()
    assert unavailable.value.status is None and "ConnectionError" in str(unavailable.value)


def test_timeout_is_applied_as_given():
    # A listening socket that never answers: connect succeeds (kernel backlog), the read hangs.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        client = JiraClient(f"http://127.0.0.1:{silent.getsockname()[1]}", "a@b.example", "t", timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(JiraUnavailable, match="Timeout"):
            client.myself()
        elapsed = time.monotonic() - started
    # Not truncated to int(0.5) == 0 (which fails at once) and not the library's 75 s default.
    assert 0.4 <= elapsed < 3


def test_lost_create_answer_then_find_by_label_shows_one_issue(jira, client):
    jira.fail_next(1, "lose_response")
    with pytest.raises(JiraUnavailable):
        _create(client)
    assert list(jira.issues) == ["APPR-1"]  # it was created, the caller could not know
    found = client.find_by_label("APPR", LABEL)  # what a retry does before creating again
    assert found is not None and found.key == "APPR-1"
    assert len(jira.issues) == 1


def test_client_rejects_bad_configuration():
    with pytest.raises(ValueError):
        JiraClient("bank.atlassian.net", "a@b.example", "t")
    with pytest.raises(ValueError):
        JiraClient("https://bank.atlassian.net", "a@b.example", "t", timeout_s=0)


def test_adf_builder_makes_valid_documents_without_empty_text():
    document = adf.doc(adf.heading(""), adf.paragraph("", "a", ""), adf.paragraph(), adf.code_block(""),
                       adf.bullet_list(["", "x"]), _description())
    assert adf_problem(document) is None

    def text_nodes(node):
        if node.get("type") == "text":
            yield node
        for child in node.get("content", []):
            yield from text_nodes(child)

    assert all(node["text"] for node in text_nodes(document))
    assert adf.paragraph("", "a", "")["content"] == [{"type": "text", "text": "a"}]
    assert adf.text("site", href="https://x.example") == {
        "type": "text", "text": "site", "marks": [{"type": "link", "attrs": {"href": "https://x.example"}}]}
    assert adf.code_block("x = 1\ny = 2", "python") == {
        "type": "codeBlock", "attrs": {"language": "python"}, "content": [{"type": "text", "text": "x = 1\ny = 2"}]}
    assert adf.heading("H", level=3) == {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "H"}]}
    assert adf.doc()["version"] == 1 and adf.doc()["type"] == "doc"
    with pytest.raises(ValueError):
        adf.text("")
    with pytest.raises(ValueError):
        adf.heading("H", level=7)


def test_plain_text():
    assert adf.plain_text(_description()) == (
        "credit-memo v3\nApprove the diff\n- tests pass\n- eval 0.93\nshipway approve credit-memo 3")
    with_break = adf.doc({"type": "paragraph", "content": [adf.text("a"), {"type": "hardBreak"}, adf.text("b")]})
    assert adf.plain_text(with_break) == "a\nb"
    assert adf.plain_text(adf.doc()) == ""


def test_issue_updated_payload_has_the_documented_shape(jira, client):
    ref = _create(client)
    payload = jira.issue_updated_payload(ref.key, "Approved", "acc-ana", "Ana Lopez", comment="Looks good")
    assert payload["webhookEvent"] == "jira:issue_updated" and payload["issue_event_type_name"] == "issue_generic"
    assert isinstance(payload["timestamp"], int) and payload["timestamp"] > 1_600_000_000_000  # epoch milliseconds
    assert payload["user"]["accountId"] == "acc-ana" and payload["user"]["displayName"] == "Ana Lopez"
    issue = payload["issue"]
    assert issue["key"] == ref.key and issue["id"] == ref.id and "/rest/api/2/issue/" in issue["self"]
    assert issue["fields"]["status"]["name"] == "Approved" and issue["fields"]["labels"] == [LABEL]
    (item,) = payload["changelog"]["items"]
    assert item["field"] == "status" and item["fieldtype"] == "jira"
    assert (item["fromString"], item["toString"]) == ("Awaiting approval", "Approved")
    assert item["from"] != item["to"] and all(isinstance(item[k], str) for k in ("from", "to"))
    assert payload["comment"]["body"] == "Looks good"  # webhooks carry the v2 (plain string) body
    assert payload["comment"]["author"]["accountId"] == "acc-ana"
    assert client.status(ref.key) == "Approved" and jira.comments_text(ref.key) == ["Looks good"]

    comment_only = jira.issue_updated_payload(ref.key, "Approved", "acc-ana", comment="one more thing")
    assert comment_only["issue_event_type_name"] == "issue_commented" and "changelog" not in comment_only
    with pytest.raises(ValueError):
        jira.issue_updated_payload(ref.key, "Approved", "acc-ana")


def test_sign_and_webhook_headers():
    body = json.dumps({"webhookEvent": "jira:issue_updated", "x": "é"}).encode()
    secret = "whsec-1"
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, secret) == expected
    assert sign(body + b" ", secret) != expected  # over the exact bytes: re-serialising breaks it

    headers = webhook_headers(body, secret, identifier="delivery-1")
    assert headers["X-Hub-Signature"] == expected and headers["X-Atlassian-Webhook-Identifier"] == "delivery-1"
    assert headers["Content-Type"] == "application/json" and "X-Atlassian-Webhook-Retry" not in headers
    retried = webhook_headers(body, secret, identifier="delivery-1", retry=2)
    assert retried["X-Atlassian-Webhook-Retry"] == "2" and retried["X-Atlassian-Webhook-Identifier"] == "delivery-1"
    unsigned = webhook_headers(body, None)
    assert "X-Hub-Signature" not in unsigned
    assert unsigned["X-Atlassian-Webhook-Identifier"] != webhook_headers(body, None)["X-Atlassian-Webhook-Identifier"]
