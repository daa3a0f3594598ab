"""Sender throughput against simulated modems at a fixed send latency.

For 1, 2 and 4 simulated modems (each answering +CMGS after LATENCY), queues a
batch of one-part messages and times how long the whole bridge (store, sender,
modem layer, simulator over socket://) takes to send them.  Prints messages/s
against the modem-bound ideal (modems / latency) and the scaling against one
modem.

    python tests/perf/bench_sender.py [--latency 0.05] [--messages 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from gsmbridge.config import Settings  # noqa: E402
from gsmbridge.core.events import Listener  # noqa: E402
from gsmbridge.core.models import NewJob, State  # noqa: E402
from gsmbridge.core.sender import Sender  # noqa: E402
from gsmbridge.core.store import Store  # noqa: E402
from gsmbridge.modem.gsm import Modem, ModemOptions  # noqa: E402
from gsmbridge.simulator import ModemSimulator, fast_options  # noqa: E402


def run(modem_count: int, messages: int, latency: float) -> float:
    settings = Settings()
    settings.limits.per_minute = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "q.db")
        sims = [
            ModemSimulator(fast_options(send_latency_s=latency, status_reports=False))
            for _ in range(modem_count)
        ]
        modems = []
        for sim in sims:
            sim.serve_tcp()
            modems.append(Modem(sim.url, ModemOptions(poll_interval_s=3600)))
        for modem in modems:
            modem.start()
        for modem in modems:
            assert modem.wait_ready(10), modem.status
        sender = Sender(store, modems, settings, Listener())
        for i in range(messages):
            store.enqueue(
                NewJob(
                    uid=f"u{i}",
                    name="",
                    text=f"Message {i} from the benchmark",
                    payload={},
                    dedup_key="",
                    state=State.QUEUED,
                    number=f"+1212555{i % 10000:04d}",
                )
            )
        start = time.perf_counter()
        sender.start()
        while store.count_jobs(states=["sent"]) < messages:
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        sender.stop()
        for modem in modems:
            modem.stop()
        for sim in sims:
            sim.stop()
        sent = sum(len(sim.sent) for sim in sims)
        store.close()
    assert sent == messages, (sent, messages)
    return messages / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(f"simulated +CMGS latency {args.latency * 1000:.0f} ms, {args.messages} messages")
    base = None
    for n in (1, 2, 4):
        rate = run(n, args.messages * n, args.latency)
        ideal = n / args.latency
        base = base or rate
        print(
            f"{n} modem(s): {rate:6.1f} msg/s  ideal {ideal:6.1f}  "
            f"efficiency {rate / ideal:.2f}  scaling {rate / base:.2f} x one modem"
            f" (target >= {0.9 * n:.1f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
