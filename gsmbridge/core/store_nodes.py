"""The nodes repository: the PCs that share the queue and their heartbeats.

Each node's sender writes a heartbeat (its version and its modems' state) a few
times per lease; a node silent for longer than the lease is shown as down, as its
claimed jobs may then be taken over by the others."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from gsmbridge.core.store_backend import Conn
from gsmbridge.core.store_base import StoreBase

log = logging.getLogger(__name__)

# Leases are timed by each PC's own clock: PCs whose clocks disagree by more than this
# are warned (a claim another PC holds could be taken over early, its SMS sent twice).
CLOCK_TOLERANCE_S = 5.0


def clock_warning(skew_s: float) -> str:
    """What a person must do when this PC's clock disagrees with the database server's."""
    way = "ahead of" if skew_s > 0 else "behind"
    return (
        f"This PC's clock is {abs(skew_s):.0f} s {way} the database server's: the PCs "
        "sharing the queue time each other's claims by their clocks, so a job another PC "
        "is sending could be taken over and sent twice. Let the clocks set themselves "
        "(Windows: Settings > Time & language > Set time automatically)"
    )


@dataclass(frozen=True)
class NodeInfo:
    name: str
    version: str
    started_at: float
    last_seen: float
    up: bool  # heard from within the lease
    modems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "started_at": self.started_at,
            "last_seen": self.last_seen,
            "up": self.up,
            "modems": self.modems,
        }


class NodesStore(StoreBase):
    # This PC's clock minus the database server's, from the last heartbeat (shared store).
    clock_skew_s: float | None = None
    # The clock compared (the real one even where tests give the store a fake clock).
    wall_clock: staticmethod[[], float] = staticmethod(time.time)

    def cluster(self) -> list[dict[str, Any]]:
        """The nodes for /api/status; [] on one PC's store."""
        return [n.to_dict() for n in self.nodes()] if self.dialect.shared else []

    def heartbeat(
        self, version: str, modems: list[dict[str, Any]], *, starting: bool = False
    ) -> None:
        """This node is alive; ``starting`` resets its start time."""
        now = self.clock()
        record = json.dumps(modems, separators=(",", ":"))

        def fn(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO nodes(name, version, modems, started_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " version=excluded.version, modems=excluded.modems, last_seen=excluded.last_seen,"
                " started_at=CASE WHEN ?=1 THEN excluded.started_at ELSE nodes.started_at END",
                (self.node, version, record, now, now, 1 if starting else 0),
            )

        self._write(fn)
        self._compare_clocks()

    def _compare_clocks(self) -> None:
        """Measure this PC's clock against the database server's; warn when they
        disagree."""
        sql = self.dialect.server_clock
        if not sql:
            return
        before = self.wall_clock()
        row = self._reader().execute(sql).fetchone()
        after = self.wall_clock()
        if row is None:
            return
        skew = (before + after) / 2 - float(row["now"])
        was = self.clock_skew_s
        self.clock_skew_s = skew
        off, was_off = (
            abs(skew) > CLOCK_TOLERANCE_S,
            was is not None and abs(was) > CLOCK_TOLERANCE_S,
        )
        if off and not was_off:
            log.warning("%s", clock_warning(skew))
        elif was_off and not off:
            log.info("This PC's clock agrees with the database server's again")

    def nodes(self) -> list[NodeInfo]:
        """Every node heard of, by name; ``up`` when heard from within the lease."""
        now = self.clock()
        rows = self._reader().execute(
            "SELECT name, version, modems, started_at, last_seen FROM nodes ORDER BY name"
        )
        return [
            NodeInfo(
                name=r["name"],
                version=r["version"],
                started_at=float(r["started_at"]),
                last_seen=float(r["last_seen"]),
                up=float(r["last_seen"]) >= now - self.lease_s,
                modems=json.loads(r["modems"]),
            )
            for r in rows
        ]
