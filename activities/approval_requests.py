"""Approval requests and their Jira issues (the only writer of ``approval_requests``).

When a version reaches the approval step its lifecycle opens a request: a row with the approvers it
needs and the spec guard's findings and, when Jira is configured, an issue in the configured
project that carries everything an approver must see. Later steps comment on the issue and, when a
decision came from another channel, move it. Every Jira call may fail; the activity records since
when Jira has been unreachable (the console shows it) and raises, so Temporal retries it until Jira
answers again. Opening is idempotent across retries: the issue carries the label
``shipway-<agent>-v<n>`` and a retry first looks for it, so a create whose answer was lost does not
make a second issue. Jira Cloud's search is eventually consistent (an issue can take seconds to
appear: https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile/), so a retry that
does not find the issue searches again for ``jira_search_settle_s`` before it creates one; should a
duplicate still appear, every later lookup takes the oldest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import yaml
from sqlalchemy import update
from sqlmodel import select
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.artifact_store import ArtifactStore
from activities.jira_client import JiraClient, JiraError, JiraIssueRef, JiraRefused
from activities.jira_document import bullet_list, code_block, doc, heading, paragraph, text
from shipway.db.engine import Database
from shipway.db.models import AgentVersion, ApprovalRequest, utcnow
from shipway.settings import Settings
from shipway.version_diff import diff_versions
from workflows.types import (
    NOTE_APPROVAL_REQUEST,
    OPEN_APPROVAL_REQUEST,
    ApprovalNoteInput,
    ApprovalNoteResult,
    OpenApprovalRequestInput,
    OpenApprovalRequestResult,
)

# Jira Cloud rejects a description over 32,767 characters; the diff gets what the rest leaves.
MAX_DIFF_CHARS = 20_000


def issue_label(name: str, version: int) -> str:
    """The label that identifies a version's approval issue in Jira (labels cannot hold spaces)."""
    return f"shipway-{name}-v{version}".replace(" ", "_")


class ApprovalRequestActivities:
    """Opens approval requests and mirrors the approval's progress to Jira. Owns the Jira client
    (None: Jira is not configured, and requests have no issue).

    Args:
        db: the catalog database (the worker's platform role).
        settings: Jira project, issue type, status names and the Temporal UI base for links.
        store: the artifact store, to diff the version against the one before it.
        jira: makes a Jira client (one per call: a client's HTTP session is not shared between
            threads), or None.
    """

    def __init__(self, db: Database, settings: Settings, store: ArtifactStore, jira: Callable[[], JiraClient] | None) -> None:
        self.db, self.settings, self.store, self.jira = db, settings, store, jira

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, store: ArtifactStore) -> ApprovalRequestActivities:
        """With Jira clients when ``settings.jira_configured``."""
        def client() -> JiraClient:
            return JiraClient(settings.jira_url, settings.jira_email, settings.jira_api_token, settings.jira_timeout_s)

        return cls(db, settings, store, client if settings.jira_configured else None)

    @activity.defn(name=OPEN_APPROVAL_REQUEST)
    async def open_request(self, inp: OpenApprovalRequestInput) -> OpenApprovalRequestResult:
        """Record the request (once) and make sure its Jira issue exists; returns the issue.

        Raises:
            activities.jira_client.JiraError: Jira did not answer or refused; recorded on the row, and
                Temporal retries.
        """
        async with self.db.session() as s:
            await s.execute(insert(ApprovalRequest).values(
                agent_name=inp.name, version=inp.version, workflow_id=inp.workflow_id, owner=inp.owner,
                required_approvers=inp.required_approvers, guard_findings=[vars(f) for f in inp.guard_findings],
                requested_at=utcnow(), updated_at=utcnow()).on_conflict_do_nothing())
            await s.commit()
            row = await s.get(ApprovalRequest, (inp.name, inp.version))
            if self.jira is None or row.jira_key:
                return OpenApprovalRequestResult(row.jira_key, row.jira_url)
        previous = await self._previous_version(inp.name, inp.version)
        description = await asyncio.to_thread(self._description, inp, previous)
        retry = activity.info().attempt > 1
        ref, account = await self._jira_call(inp.name, inp.version, self._ensure_issue, inp, description, retry)
        await self._update(inp.name, inp.version, jira_key=ref.key, jira_url=ref.url, jira_account_id=account)
        activity.logger.info("approval issue %s for %s v%s", ref.key, inp.name, inp.version)
        return OpenApprovalRequestResult(ref.key, ref.url)

    @activity.defn(name=NOTE_APPROVAL_REQUEST)
    async def note(self, inp: ApprovalNoteInput) -> ApprovalNoteResult:
        """Comment on the version's issue and move it when ``move_to`` asks. A retry after a lost
        answer may repeat the comment; the move is checked against the issue's status first. A note
        Jira refuses (4xx) is answered with ``refused`` instead of retried.

        Raises:
            activities.jira_client.JiraUnavailable: Jira did not answer; recorded, and Temporal retries.
        """
        if self.jira is None:
            return ApprovalNoteResult()
        try:
            return await self._jira_call(inp.name, inp.version, self._note, inp)
        except JiraRefused as exc:  # retrying cannot help a note Jira refuses; the workflow records it and goes on
            return ApprovalNoteResult(refused=str(exc))

    # -- Jira, in a thread (the client is synchronous) --------------------------------------------
    def _ensure_issue(self, inp: OpenApprovalRequestInput, description: dict, retry: bool) -> tuple[JiraIssueRef, str]:
        jira, label = self.jira(), issue_label(inp.name, inp.version)
        ref = jira.find_by_label(self.settings.jira_project, label)
        settle_until = time.monotonic() + (self.settings.jira_search_settle_s if retry else 0)
        while ref is None and time.monotonic() < settle_until:  # an earlier attempt's issue may not be searchable yet
            time.sleep(min(2.0, self.settings.jira_search_settle_s))
            ref = jira.find_by_label(self.settings.jira_project, label)
        if ref is None:
            spec = inp.spec
            summary = (f"Approve agent {inp.name} v{inp.version} ({spec.get('template', 'project')}, "
                       f"{spec.get('data_classification', 'internal')} data)")
            ref = jira.create_issue(self.settings.jira_project, self.settings.jira_issue_type, summary, description,
                                    ["shipway", label])
        return ref, jira.myself().get("accountId", "")

    def _note(self, inp: ApprovalNoteInput) -> ApprovalNoteResult:
        jira = self.jira()
        jira.comment(inp.jira_key, doc(*(paragraph(part) for part in inp.text.split("\n\n") if part.strip())))
        if inp.move_to is None:
            return ApprovalNoteResult()
        status = (self.settings.jira_pending_status if inp.move_to == "pending"
                  else self.settings.jira_status_for(inp.move_to))
        return ApprovalNoteResult(moved=bool(status) and jira.transition_to(inp.jira_key, status))

    async def _jira_call(self, name: str, version: int, call, *args):
        try:
            result = await asyncio.to_thread(call, *args)
        except JiraError as exc:
            await self._update(name, version, failed=str(exc), unreachable=not isinstance(exc, JiraRefused))
            raise
        await self._update(name, version)
        return result

    async def _update(self, name: str, version: int, failed: str | None = None, unreachable: bool = True, **values) -> None:
        """Record a Jira success (clears ``jira_unreachable_since``) or failure: its error, and since
        when Jira has not answered (the first failure's time) unless Jira answered with a refusal."""
        async with self.db.session() as s:
            row = await s.get(ApprovalRequest, (name, version))
            if failed is None:
                values.update(jira_unreachable_since=None)
            else:
                values.update(jira_error=failed[:2000],
                              jira_unreachable_since=(row.jira_unreachable_since or utcnow()) if unreachable else None)
            await s.execute(update(ApprovalRequest).where(ApprovalRequest.agent_name == name, ApprovalRequest.version == version)
                            .values(updated_at=utcnow(), **values))
            await s.commit()

    # -- the issue's description ------------------------------------------------------------------
    def _description(self, inp: OpenApprovalRequestInput, previous: AgentVersion | None) -> dict:
        spec = inp.spec
        findings = [f"{f.entity} in {f.field} (score {f.score:.2f}, characters {f.start}-{f.end})" for f in inp.guard_findings]
        approvers = ("two different approvers (restricted data)" if inp.required_approvers > 1 else "one approver")
        approve, reject = self.settings.jira_status_for("approve"), self.settings.jira_status_for("reject")
        return doc(
            paragraph(f"Agent {inp.name} v{inp.version}, owned by {inp.owner}, needs {approvers} other than its owner."),
            paragraph(text("Lifecycle workflow in the Temporal UI", href=self.settings.workflow_url(inp.workflow_id))),
            heading("How to decide"),
            paragraph(f"Move this issue to {approve!r} to approve or to {reject!r} to reject, with a comment giving "
                      f"the reason (a rejection needs one). Your Jira account must be mapped to a Shipway identity."),
            heading("Artifact"),
            paragraph(f"SHA-256 {inp.artifact_sha256}"),
            heading("Spec guard findings"),
            bullet_list(findings) if findings else paragraph("None."),
            heading("Spec"),
            code_block(yaml.safe_dump(spec, sort_keys=True), "yaml"),
            *self._diff_blocks(inp, previous),
        )

    def _diff_blocks(self, inp: OpenApprovalRequestInput, previous: AgentVersion | None) -> list[dict]:
        if previous is None:
            return [heading("Changes"), paragraph("First version of this agent: nothing to compare with.")]
        diff = diff_versions(previous.spec, inp.spec, self.store.get(previous.artifact_sha256), self.store.get(inp.artifact_sha256),
                             f"v{previous.version}", f"v{inp.version}")
        body = "\n".join([diff.spec_diff, *(f.diff or f"{f.change} {f.path} ({f.note})" for f in diff.files)]).strip()
        if len(body) > MAX_DIFF_CHARS:
            body = body[:MAX_DIFF_CHARS] + f"\n... ({len(body) - MAX_DIFF_CHARS} more characters: see the console's Approvals page)"
        return [heading(f"Changes since v{previous.version}"),
                code_block(body, "diff") if body else paragraph("No change in the spec or the files.")]

    async def _previous_version(self, name: str, version: int) -> AgentVersion | None:
        """The newest earlier version that has an artifact (what this one would replace)."""
        async with self.db.session() as s:
            return (await s.exec(select(AgentVersion).where(
                AgentVersion.agent_name == name, AgentVersion.version < version, AgentVersion.artifact_sha256.is_not(None))
                .order_by(AgentVersion.version.desc()).limit(1))).first()
