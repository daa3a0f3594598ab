"""Benchmark: the modem layer's own overhead per SMS (not collected by pytest).

The simulator answers every AT+CMGS after a fixed ``send_latency_s``; whatever a
send takes beyond that is our overhead (AT framing, reader thread hand-off,
locking, PDU encoding) plus the simulator's own processing, which runs in the
same Python process and so is included (an upper bound for our share).

    /work/venv/bin/python tests/perf/bench_modem.py [--sends 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.simulator import ModemSimulator, fast_options


def bench(transport: str, sends: int, latency: float, text: str) -> list[float]:
    sim = ModemSimulator(fast_options(send_latency_s=latency, status_reports=False))
    url = sim.serve_pty() if transport == "pty" else f"socket://127.0.0.1:{sim.serve_tcp()}"
    modem = Modem(url, ModemOptions(status_reports=False, poll_interval_s=3600))
    modem.start()
    try:
        if not modem.wait_ready(10):
            raise SystemExit(f"{transport}: modem not ready: {modem.status}")
        overheads = []
        for i in range(sends):
            started = time.perf_counter()
            result = modem.send_sms("+31612345678", f"{text} #{i}", more_to_come=i < sends - 1)
            elapsed = time.perf_counter() - started
            overheads.append((elapsed - latency * result.parts) * 1000 / result.parts)
        assert len(sim.wait_for_messages(sends, 5)) == sends
        return overheads
    finally:
        modem.stop()
        sim.stop()


def report(label: str, values: list[float]) -> None:
    values = sorted(values)
    p95 = values[int(len(values) * 0.95) - 1]
    print(
        f"{label:<28} mean {statistics.mean(values):6.2f} ms  median "
        f"{statistics.median(values):6.2f} ms  p95 {p95:6.2f} ms  max {values[-1]:6.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="simulated +CMGS latency")
    args = parser.parse_args()
    transports = ["tcp", "pty"] if sys.platform != "win32" else ["tcp"]
    print(
        f"{args.sends} sends per run, simulated send latency {args.latency * 1000:.0f} ms; "
        "overhead per part = time beyond the simulated latency"
    )
    for transport in transports:
        report(
            f"{transport}, 1-part GSM 7-bit",
            bench(transport, args.sends, args.latency, "Your order has shipped"),
        )
        report(
            f"{transport}, 3-part UCS-2",
            bench(transport, max(1, args.sends // 4), args.latency, "Привет мир! " * 14),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
