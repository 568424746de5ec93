"""The ``local`` deployment target: traffic weights in PostgreSQL, read by the gateway per request
(the only writer of ``traffic_weights``)."""

from __future__ import annotations

from sqlmodel import delete
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shipway.db.engine import Database
from shipway.db.models import TrafficWeight
from workflows.types import SET_TRAFFIC, TrafficResult, TrafficUpdate


class TrafficActivities:
    """Sets how the gateway splits an agent's traffic between its versions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=SET_TRAFFIC)
    async def set_traffic(self, upd: TrafficUpdate) -> TrafficResult:
        """Replace the agent's weights with ``upd.weights`` (percent by version) in one transaction.

        Raises:
            ApplicationError (non-retryable, ``InvalidWeights``): non-empty weights that do not sum to 100.
        """
        total = sum(upd.weights.values())
        if upd.weights and abs(total - 100.0) > 1e-6:
            raise ApplicationError(f"traffic weights must sum to 100, got {total}", type="InvalidWeights", non_retryable=True)
        async with self.db.session() as session:
            await session.exec(delete(TrafficWeight).where(TrafficWeight.agent_name == upd.name))
            for version, pct in upd.weights.items():
                if pct > 0:
                    session.add(TrafficWeight(agent_name=upd.name, version=int(version), weight_pct=pct))
            await session.commit()
        return TrafficResult(weights={v: p for v, p in upd.weights.items() if p > 0})
