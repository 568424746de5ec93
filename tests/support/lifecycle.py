"""Taking the counting test agent through its real lifecycle in tests."""

from __future__ import annotations

import asyncio
import uuid

from shipway import control
from workflows.statuses import ApprovalKind, LifecycleStep, VersionStatus
from workflows.types import LifecycleStatus

OWNER = "olivia.owner@bank.example"
APPROVER = "carol.approver@bank.example"


def counting_spec(**overrides) -> dict:
    """A valid spec of the counting test agent with a fresh name; ``overrides`` replace fields."""
    spec = {
        "name": f"counting-{uuid.uuid4().hex[:8]}",
        "owner": OWNER,
        "description": "A three-node test agent used by the integration tests of the lifecycle.",
        "template": "counting_agent:AGENT",
        "system_prompt": "Count the nodes you visit.",
        "data_classification": "internal",
    }
    spec.update(overrides)
    return spec


async def submit(client, db, spec: dict) -> tuple[str, int]:
    """Submit ``spec`` as its owner; returns ``(name, version)``."""
    name, version, _ = await control.submit_agent(client, db, spec, submitted_by=spec.get("owner", OWNER))
    return name, version


# The status a step sets once it has begun (the query shows the step a moment before its status).
_STEP_STATUS = {LifecycleStep.APPROVAL: VersionStatus.AWAITING_APPROVAL, LifecycleStep.DEPLOY: VersionStatus.DEPLOYING,
                LifecycleStep.LIVE: VersionStatus.LIVE}


async def wait_for_step(client, name: str, version: int, step: LifecycleStep, timeout_s: float = 120) -> LifecycleStatus:
    """Poll the ``status`` query until the lifecycle has begun ``step`` (and recorded its status) or stops moving."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        st = await control.lifecycle_status(client, name, version)
        if (st.step == step and st.status == _STEP_STATUS.get(step, st.status)) or not st.status.in_progress:
            return st
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{name} v{version} stayed at {st.step}")
        await asyncio.sleep(0.1)


async def deploy(client, db, spec: dict) -> tuple[str, int]:
    """Submit ``spec``, approve it as :data:`APPROVER` and wait until it is live."""
    name, version = await submit(client, db, spec)
    await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
    await control.decide(client, name, version, ApprovalKind.APPROVE, APPROVER, "test deployment")
    result = await control.wait_lifecycle(client, name, version)
    assert result.status == VersionStatus.LIVE, result
    return name, version


async def deploy_counting(client, db, **overrides) -> str:
    """A live counting agent with a fresh name; returns the name."""
    name, _ = await deploy(client, db, counting_spec(**overrides))
    return name


_SHARED: dict[tuple[str, tuple], str] = {}


async def shared_counting(client, db, **overrides) -> str:
    """A live counting agent shared by the tests of one session that ask for the same ``overrides``
    (deployed by the first of them: a lifecycle costs ~5 s). For tests that only run it: one that
    changes the agent, or counts what all its runs did, takes :func:`deploy_counting`."""
    key = (db.url, tuple(sorted(overrides.items())))
    if key not in _SHARED:
        _SHARED[key] = await deploy_counting(client, db, **overrides)
    return _SHARED[key]

