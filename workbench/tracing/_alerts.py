"""Burn-rate cost alerts: spend per hour against a budget, per principal or agent version.

A :class:`BurnRateMonitor` measures spend over a sliding window (from the LLM spans in
the trace store with :meth:`BurnRateMonitor.check_store`, or fed one cost at a time with
:meth:`BurnRateMonitor.add`), converts it to USD per hour and, when that exceeds the
budget of its key, records a :class:`CostAlert` row in ``cost_alerts`` and hands it to
every :class:`CostNotifier`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, assert_never

import httpx
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from workbench.tracing._store import TraceStore
    from workbench.tracing._thresholds import ThresholdAlert
    from workbench.tracing._tracer import Tracer

__all__ = [
    "COST_ALERTS",
    "AlertScope",
    "BurnRateMonitor",
    "CostAlert",
    "CostNotifier",
    "LogNotifier",
    "WebhookNotifier",
]

_log = logging.getLogger("workbench.tracing.alerts")

COST_ALERTS = "cost_alerts"
"""Table of the alert rows (a view over ``records``; see ``docs/trace-store.md``)."""

AlertScope = Literal["principal", "agent_version"]
"""What a budget applies to: one principal, or one ``<agent>@<version>``."""


class CostAlert(BaseModel):
    """Spend over a window ran faster than the hourly budget of one principal or version."""

    model_config = ConfigDict(frozen=True)

    scope: AlertScope
    """``principal`` or ``agent_version``."""
    key: str
    """The principal, or ``<agent_name>@<agent_version>``."""
    window_start: datetime
    """Start of the measured window (UTC)."""
    window_end: datetime
    """End of the measured window (UTC): the time of the check or of the newest cost."""
    spend_usd: float
    """USD spent in the window."""
    burn_rate_usd_per_hour: float
    """``spend_usd`` scaled to one hour."""
    budget_usd_per_hour: float
    """The budget that was exceeded."""
    ratio: float
    """``burn_rate_usd_per_hour / budget_usd_per_hour``."""


class CostNotifier(ABC):
    """Where alerts go besides the ``cost_alerts`` table.

    Contract: :meth:`notify` is called on the thread that ran the check, once per alert;
    it should return within seconds. An exception is logged by the monitor and does not
    stop the other notifiers or the check.
    """

    @abstractmethod
    def notify(self, alert: CostAlert | ThresholdAlert) -> None:
        """Deliver one alert: a burn-rate :class:`CostAlert` or a ``ThresholdAlert``."""


class LogNotifier(CostNotifier):
    """Logs each alert as a warning on ``workbench.tracing.alerts``."""

    def notify(self, alert: CostAlert | ThresholdAlert) -> None:
        """Log the alert."""
        if not isinstance(alert, CostAlert):
            _log.warning(
                "%s of %s is %g, threshold %g (x%.2f)",
                alert.scope,
                alert.key,
                alert.value,
                alert.threshold,
                alert.ratio,
            )
            return
        _log.warning(
            "cost burn rate of %s %s is %.4f USD/h, budget %.4f USD/h (x%.2f)",
            alert.scope,
            alert.key,
            alert.burn_rate_usd_per_hour,
            alert.budget_usd_per_hour,
            alert.ratio,
        )


class WebhookNotifier(CostNotifier):
    """POSTs each alert as JSON (``{"type": "cost_alert"|"threshold_alert", ...}``) to a URL.

    Args:
        url: The endpoint (e.g. a chat or paging webhook).
        headers: Extra headers (e.g. an authorisation token).
        timeout_s: Timeout of one request.

    Raises:
        httpx.HTTPError: (from :meth:`notify`) the request failed or was answered with
            an error status; the monitor logs it.
    """

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._timeout = timeout_s

    def notify(self, alert: CostAlert | ThresholdAlert) -> None:
        """POST the alert (``type`` is ``cost_alert`` or ``threshold_alert``)."""
        kind = "cost_alert" if isinstance(alert, CostAlert) else "threshold_alert"
        body = {"type": kind, **alert.model_dump(mode="json")}
        response = httpx.post(self.url, json=body, headers=self._headers, timeout=self._timeout)
        response.raise_for_status()

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r})"


class BurnRateMonitor:
    """Alerts when spend per hour of a principal or agent version exceeds its budget.

    The burn rate of a key is its spend over the last ``window_s`` seconds scaled to one
    hour. Above the budget, a :class:`CostAlert` is recorded as a ``cost_alerts`` row
    (through ``tracer``) and sent to each notifier; the key is then quiet for
    ``cooldown_s`` so a sustained overspend gives one alert per cooldown, not one per
    check.

    Args:
        budget_usd_per_hour: Budget of every key without its own.
        by: ``agent_version`` (key ``<agent>@<version>``) or ``principal``.
        budgets: Budgets of particular keys, overriding the default.
        window_s: Length of the measured window.
        cooldown_s: Least time between two alerts of one key; default ``window_s``.
        notifiers: Where alerts go; default one :class:`LogNotifier`.
        tracer: Records the alert rows; default :func:`~workbench.tracing.get_tracer`.
    """

    def __init__(
        self,
        budget_usd_per_hour: float,
        *,
        by: AlertScope = "agent_version",
        budgets: Mapping[str, float] | None = None,
        window_s: float = 3600.0,
        cooldown_s: float | None = None,
        notifiers: Sequence[CostNotifier] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if budget_usd_per_hour <= 0 or window_s <= 0:
            raise ValueError("budget_usd_per_hour and window_s must be positive")
        self.budget_usd_per_hour = budget_usd_per_hour
        self.by: AlertScope = by
        self.budgets = dict(budgets or {})
        self.window = timedelta(seconds=window_s)
        self.cooldown = timedelta(seconds=window_s if cooldown_s is None else cooldown_s)
        self.notifiers: list[CostNotifier] = (
            [LogNotifier()] if notifiers is None else list(notifiers)
        )
        self._tracer = tracer
        self._costs: dict[str, deque[tuple[datetime, float]]] = {}
        self._newest: dict[str, datetime] = {}
        self._last_alert: dict[str, datetime] = {}

    def budget_for(self, key: str) -> float:
        """The hourly budget of ``key``."""
        return self.budgets.get(key, self.budget_usd_per_hour)

    def add(self, key: str, cost_usd: float, at: datetime | None = None) -> CostAlert | None:
        """Feed one cost (e.g. of a model call) and check its key.

        Args:
            key: The principal, or ``<agent>@<version>``.
            cost_usd: USD of this call.
            at: When it was spent (naive = UTC); default now. The window ends at the
                newest time seen for the key.

        Returns:
            The alert raised by this cost, if any.
        """
        at = _utc(at)
        costs = self._costs.setdefault(key, deque())
        costs.append((at, cost_usd))
        end = self._newest[key] = max(at, self._newest.get(key, at))
        start = end - self.window
        while costs and costs[0][0] <= start:
            costs.popleft()
        # A late cost (older than the newest) may sit behind newer ones: filter, not trust.
        return self._check(key, sum(c for t, c in costs if t > start), start, end)

    def check_store(self, store: TraceStore, *, now: datetime | None = None) -> list[CostAlert]:
        """Measure every key's spend over the window ending ``now`` from LLM spans.

        The key of an LLM span comes from its execution row (``principal``, or
        ``agent_name``/``agent_version``), falling back to the span's own agent columns.

        Args:
            store: The trace store (merged first, like every query).
            now: End of the window (naive = UTC); default the current time.

        Returns:
            The alerts raised by this check, most overspent first.
        """
        end = _utc(now)
        start = end - self.window
        frame = store.sql(
            f"""SELECT {self._key_sql()} AS key, sum(coalesce(s.cost_usd, 0)) AS spend
            FROM spans s LEFT JOIN executions e ON e.execution_id = s.execution_id
            WHERE s.kind = 'LLM' AND s.start_time > ? AND s.start_time <= ?
            GROUP BY 1 ORDER BY 1""",
            [start.replace(tzinfo=None), end.replace(tzinfo=None)],
        )
        alerts = [
            alert
            for key, spend in zip(frame["key"], frame["spend"], strict=True)
            if (alert := self._check(str(key), float(spend), start, end)) is not None
        ]
        return sorted(alerts, key=lambda a: -a.ratio)

    def _key_sql(self) -> str:
        if self.by == "principal":
            return "coalesce(e.principal, '(unknown)')"
        if self.by == "agent_version":
            return (
                "coalesce(e.agent_name, s.agent_name, '(unknown)') || '@' || "
                "coalesce(e.agent_version, s.agent_version, '(unknown)')"
            )
        assert_never(self.by)

    def _check(self, key: str, spend: float, start: datetime, end: datetime) -> CostAlert | None:
        budget = self.budget_for(key)
        rate = spend * (timedelta(hours=1) / self.window)
        if rate <= budget:
            return None
        last = self._last_alert.get(key)
        if last is not None and end - last < self.cooldown:
            return None
        self._last_alert[key] = end
        alert = CostAlert(
            scope=self.by,
            key=key,
            window_start=start,
            window_end=end,
            spend_usd=spend,
            burn_rate_usd_per_hour=rate,
            budget_usd_per_hour=budget,
            ratio=rate / budget,
        )
        self._emit(alert)
        return alert

    def _emit(self, alert: CostAlert) -> None:
        tracer = self._tracer
        if tracer is None:
            from workbench.tracing._tracer import get_tracer

            tracer = get_tracer()
        tracer.record(COST_ALERTS, alert.model_dump(mode="json"))
        for notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except Exception:
                _log.exception("cost alert notifier %r failed", notifier)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
