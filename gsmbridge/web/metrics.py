"""``/metrics`` in the Prometheus text format (prometheus_client).

Each app has its own CollectorRegistry (never the library's global one), so two
apps in one process (tests, a restart) do not collide.  The webhook's request
counter and latency histogram are ordinary instruments fed by the app; every
other figure is read at scrape time by one collector, from the store and the
modems' status, so nothing else in the program has to count.

The store figures that are counters (SMS sent, delivered, failed, parts,
replies) are added up scrape after scrape from what happened since the last
one (``store_stats.changes_between``): removing old history never makes them
go down, and like any counter they start at 0 when gsmbridge starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gsmbridge.config import Settings
from gsmbridge.core import store_stats
from gsmbridge.core.store import Store
from gsmbridge.modem.status import ModemStatus

log = logging.getLogger(__name__)

# A row is stamped (sent_at, delivered_at...) just before its transaction commits:
# counting only up to a moment ago never misses one committed late.
SETTLE_S = 2.0
NO_MODEM = "none"  # the label of jobs that failed before any modem took them
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
# Headers a reverse proxy or tunnel adds (nginx, Caddy, Apache, ngrok, cloudflared, CDNs):
# a request carrying any of them came from elsewhere.  The app sees them because the
# server tells waitress not to clear "untrusted proxy headers" (see web/server.py).
FORWARDED_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "true-client-ip",
        "fastly-client-ip",
        "akamai-origin-hop",
        "x-proxyuser-ip",
        "x-envoy-external-address",
        "ngrok-trace-id",
    }
)
FORWARDED_PREFIXES = ("x-forwarded-", "x-original-forwarded-", "cf-")  # cf-: Cloudflare


def is_forwarded(header_name: str) -> bool:
    """True for a header only a proxy or tunnel in front of gsmbridge would add."""
    name = header_name.lower().replace("_", "-")
    return name in FORWARDED_HEADERS or name.startswith(FORWARDED_PREFIXES)


class MetricsBackend(Protocol):
    """What the collector reads from the running bridge."""

    store: Store

    def modem_statuses(self) -> list[ModemStatus]: ...

    def tunnel_up(self) -> bool | None:
        """None when no tunnel is configured."""
        ...


def public_refusal(settings: Settings) -> str:
    """Why ``server.metrics_public`` cannot open /metrics now ("" when it can).

    Open without credentials only while the webhook listens on loopback alone and
    no tunnel runs: a tunnel (cloudflared, ngrok) forwards the internet to that
    loopback address, so the figures would be public.
    """
    from gsmbridge.web.server import is_loopback  # server imports app, which imports this

    if not is_loopback(settings.server.host):
        return f"the webhook listens on {settings.server.host}, not on loopback only"
    if settings.tunnel.program:
        return f"a tunnel ({settings.tunnel.program}) forwards the internet to the webhook"
    return ""


def metrics_open(settings: Settings, header_names: Iterable[str]) -> bool:
    """True when this /metrics request needs no credentials (see ``public_refusal``)."""
    if not settings.server.metrics_public or public_refusal(settings):
        return False
    return not any(is_forwarded(name) for name in header_names)


class WebhookMetrics:
    """The webhook's requests by status code and their latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gsmbridge_webhook_requests",
            "Webhook requests answered, by HTTP status code.",
            ["code"],
            registry=registry,
        )
        self.latency = Histogram(
            "gsmbridge_webhook_request_duration_seconds",
            "Time to answer a webhook request (the job is on disk when it is answered).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, code: int, seconds: float) -> None:
        self.requests.labels(code=str(code)).inc()
        self.latency.observe(seconds)


class BridgeCollector(Collector):
    """Queue, modem and tunnel figures, read when Prometheus scrapes.

    With several nodes on one shared queue, each node reports its own modems'
    figures; the queue's own figures (jobs by state, the oldest due job,
    replies) are the same on every node, once per node.
    """

    def __init__(self, backend: MetricsBackend, clock: Callable[[], float] = time.time) -> None:
        self._backend = backend
        self._clock = clock
        self._lock = threading.Lock()  # two scrapes at once add each interval once
        self.started = clock()
        self._mark = self.started
        self._sent: dict[str, int] = {}
        self._parts: dict[str, int] = {}
        self._delivered: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._replies = 0

    def _advance(self, own: list[str]) -> None:
        """Add what happened since the last scrape (up to SETTLE_S ago) to the totals."""
        store = self._backend.store
        upto = self._clock() - SETTLE_S
        if upto <= self._mark:
            return
        changes = store_stats.changes_between(store, self._mark, upto)
        self._mark = upto
        for totals, new in (
            (self._sent, changes.sent),
            (self._parts, changes.parts),
            (self._delivered, changes.delivered),
        ):
            for modem, n in new.items():
                if modem in own:
                    totals[modem] = totals.get(modem, 0) + n
        for modem, n in changes.failed.items():
            if modem in own or not modem:
                label = modem or NO_MODEM
                self._failed[label] = self._failed.get(label, 0) + n
        self._replies += changes.replies

    def describe(self) -> Iterator[Metric]:
        return iter(())  # names are not checked for clashes: nothing else registers them

    def collect(self) -> Iterator[Metric]:
        backend = self._backend
        statuses = backend.modem_statuses()
        # This node's modems as the store names them ("pc-1:COM3" in a shared store).
        own = [backend.store.modem_key(s.port) for s in statuses]
        with self._lock:
            self._advance(own)
            sent, parts = dict(self._sent), dict(self._parts)
            delivered, failed = dict(self._delivered), dict(self._failed)
            replies = self._replies
        now = self._clock()

        jobs = GaugeMetricFamily("gsmbridge_jobs", "Jobs in the queue by state.", labels=["state"])
        for state, n in backend.store.counts().items():
            jobs.add_metric([state], n)
        yield jobs
        oldest = GaugeMetricFamily(
            "gsmbridge_oldest_due_job_age_seconds",
            "Seconds since the webhook of the oldest queued job due to go now (0: none).",
        )
        oldest.add_metric([], store_stats.oldest_due_age(backend.store, now))
        yield oldest

        for name, help_text, values in (
            (
                "gsmbridge_sms_sent",
                "SMS whose last part went out, per modem (merged notifications: once).",
                sent,
            ),
            ("gsmbridge_sms_delivered", "SMS reported delivered, per modem.", delivered),
            ("gsmbridge_sms_parts_sent", "SMS parts sent (what carriers count).", parts),
        ):
            family = CounterMetricFamily(name, help_text, labels=["modem"])
            for modem in own:
                family.add_metric([modem], values.get(modem, 0), created=self.started)
            yield family
        failed_family = CounterMetricFamily(
            "gsmbridge_sms_failed",
            f"SMS failures when they happened, per modem ({NO_MODEM}: before any modem).",
            labels=["modem"],
        )
        for modem in [*own, *(m for m in failed if m not in own)]:
            failed_family.add_metric([modem], failed.get(modem, 0), created=self.started)
        yield failed_family
        yield CounterMetricFamily(
            "gsmbridge_replies_received",
            "SMS received by the modems (replies).",
            value=replies,
            created=self.started,
        )

        up = GaugeMetricFamily("gsmbridge_modem_up", "1 when the modem is ready.", labels=["modem"])
        registration = GaugeMetricFamily(
            "gsmbridge_modem_registration",
            "The modem's network registration (1 for the current one).",
            labels=["modem", "registration"],
        )
        signal = GaugeMetricFamily(
            "gsmbridge_modem_signal_dbm",
            "Signal strength in dBm (absent while unknown).",
            labels=["modem"],
        )
        for key, status in zip(own, statuses, strict=True):
            up.add_metric([key], 1 if status.ready else 0)
            registration.add_metric([key, status.registration or "unknown"], 1)
            if status.signal_dbm is not None:
                signal.add_metric([key], status.signal_dbm)
        yield up
        yield registration
        yield signal

        tunnel = GaugeMetricFamily(
            "gsmbridge_tunnel_up", "1 when the tunnel is up (absent: no tunnel configured)."
        )
        tunnel_up = backend.tunnel_up()
        if tunnel_up is not None:
            tunnel.add_metric([], 1 if tunnel_up else 0)
        yield tunnel


def make_registry(backend: MetricsBackend) -> tuple[CollectorRegistry, WebhookMetrics]:
    """A registry of this app's own: the collector and the webhook's instruments."""
    registry = CollectorRegistry()
    registry.register(BridgeCollector(backend))
    return registry, WebhookMetrics(registry)
