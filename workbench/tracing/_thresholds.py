"""Threshold alerts: one execution too costly or too long, one principal's day too costly.

Burn-rate alerts (:class:`~workbench.tracing.BurnRateMonitor`) watch spend per hour; a
:class:`ThresholdMonitor` watches totals against fixed thresholds, from the trace store:

- ``execution_usd``: an execution that cost more than this;
- ``execution_steps``: an execution that took more model calls than this (a loop that
  runs away before its step cap, or a cap set too high);
- ``principal_day_usd``: a principal whose spend on one UTC day passed this.

Each crossing is raised once (the store's ``safety_events`` remember which were raised,
so a scheduled check, e.g. ``workbench traces alerts`` from cron, does not repeat
itself): a ``cost_alert`` safety event (a span and a row) and a call of every notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.tracing._alerts import CostNotifier, LogNotifier
from workbench.tracing._safety import SafetyEvent, record_safety_event

if TYPE_CHECKING:
    from workbench.tracing._store import TraceStore
    from workbench.tracing._tracer import Tracer

__all__ = ["ThresholdAlert", "ThresholdMonitor", "Thresholds"]

_log = logging.getLogger("workbench.tracing.alerts")

ThresholdScope = Literal["execution_usd", "execution_steps", "principal_day_usd"]


class Thresholds(BaseModel):
    """The thresholds to watch; a ``None`` one is not watched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_usd: float | None = Field(default=None, gt=0)
    """USD of one execution."""
    execution_steps: int | None = Field(default=None, ge=1)
    """Model calls of one execution."""
    principal_day_usd: float | None = Field(default=None, gt=0)
    """USD of one principal on one UTC day."""


class ThresholdAlert(BaseModel):
    """A total that crossed its threshold."""

    model_config = ConfigDict(frozen=True)

    scope: ThresholdScope
    """Which threshold."""
    key: str
    """The execution id, or ``<principal>@<YYYY-MM-DD>``."""
    value: float
    """The measured total."""
    threshold: float
    """The threshold it crossed."""
    ratio: float
    """``value / threshold``."""
    principal: str | None = None
    """The principal concerned, when known."""
    execution_id: str | None = None
    """The execution concerned, for the execution scopes."""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """When the check raised it."""


class ThresholdMonitor:
    """Raises :class:`ThresholdAlert` once per crossing found in the trace store.

    Args:
        thresholds: What to watch.
        notifiers: Where alerts go besides the store; default one :class:`LogNotifier`.
        tracer: Records the alert events; default :func:`~workbench.tracing.get_tracer`.
    """

    def __init__(
        self,
        thresholds: Thresholds,
        *,
        notifiers: Sequence[CostNotifier] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.thresholds = thresholds
        self.notifiers: list[CostNotifier] = (
            [LogNotifier()] if notifiers is None else list(notifiers)
        )
        self._tracer = tracer

    def check_store(self, store: TraceStore) -> list[ThresholdAlert]:
        """Find crossings not raised before, raise them, and return them (worst first)."""
        found: list[ThresholdAlert] = []
        t = self.thresholds
        if t.execution_usd is not None:
            found += self._executions(store, "execution_usd", "cost_usd", t.execution_usd)
        if t.execution_steps is not None:
            found += self._executions(store, "execution_steps", "steps", t.execution_steps)
        if t.principal_day_usd is not None:
            frame = store.sql(
                "SELECT principal, CAST(CAST(started_at AS DATE) AS VARCHAR) AS day,"
                " sum(coalesce(cost_usd, 0)) AS spend FROM executions"
                " WHERE principal IS NOT NULL GROUP BY 1, 2 HAVING spend > ? ORDER BY 1, 2",
                [t.principal_day_usd],
            )
            found += [
                ThresholdAlert(
                    scope="principal_day_usd",
                    key=f"{r.principal}@{r.day}",
                    value=float(r.spend),
                    threshold=t.principal_day_usd,
                    ratio=float(r.spend) / t.principal_day_usd,
                    principal=str(r.principal),
                )
                for r in frame.itertuples(index=False)
            ]
        raised = self._raised(store)
        fresh = [a for a in found if (a.scope, a.key) not in raised]
        for alert in fresh:
            self._emit(alert)
        return sorted(fresh, key=lambda a: -a.ratio)

    def _executions(
        self, store: TraceStore, scope: ThresholdScope, column: str, threshold: float
    ) -> list[ThresholdAlert]:
        frame = store.sql(
            f"SELECT execution_id, principal, {column} AS value FROM executions"
            f" WHERE {column} > ? ORDER BY execution_id",
            [threshold],
        )
        return [
            ThresholdAlert(
                scope=scope,
                key=str(r.execution_id),
                value=float(r.value),
                threshold=float(threshold),
                ratio=float(r.value) / threshold,
                principal=r.principal if isinstance(r.principal, str) else None,
                execution_id=str(r.execution_id),
            )
            for r in frame.itertuples(index=False)
        ]

    @staticmethod
    def _raised(store: TraceStore) -> set[tuple[str, str]]:
        frame = store.sql(
            "SELECT rule, detail ->> 'key' AS key FROM safety_events WHERE kind = 'cost_alert'"
        )
        return {(str(r.rule), str(r.key)) for r in frame.itertuples(index=False)}

    def _emit(self, alert: ThresholdAlert) -> None:
        tracer = self._tracer
        if tracer is None:
            from workbench.tracing._tracer import get_tracer

            tracer = get_tracer()
        record_safety_event(
            tracer,
            SafetyEvent(
                kind="cost_alert",
                rule=alert.scope,
                severity="high" if alert.ratio >= 2 else "medium",
                action="alert",
                principal=alert.principal,
                execution_id=alert.execution_id,
                excerpt=f"{alert.scope} {alert.value:g} > {alert.threshold:g}",
                detail=alert.model_dump(mode="json"),
            ),
        )
        for notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except Exception:
                _log.exception("threshold alert notifier %r failed", notifier)
