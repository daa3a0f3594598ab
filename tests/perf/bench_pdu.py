"""Encoding throughput of gsmbridge.modem.pdu: ``python tests/perf/bench_pdu.py [seconds]``.

A script, not a test (the name does not start with ``test_``): it prints messages per second
for 1-part and 6-part GSM 7-bit and UCS-2 texts, plus the decoders for comparison.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from gsmbridge.modem.pdu import (
    count_parts,
    decode_status_report,
    decode_submit,
    encode_status_report,
    encode_submit,
)

CASES = {
    "gsm7 1 part": "Your code is 123456. Don't share it [ref {abc}] - 5€" * 2,
    "gsm7 6 parts": ("Meeting moved to 10:30, room [B]. " * 30)[:850],
    "ucs2 1 part": "Привет! Встреча в 10:30 😀",
    "ucs2 6 parts": ("Встреча перенесена на 10:30 😀 " * 20)[:380],
    "smart -> gsm7": "“Hello” – it’s … fine " * 4,
    "gsm7 truncated": "Meeting moved to 10:30, room [B]. " * 60,
    "ucs2 truncated": "Встреча перенесена на 10:30 😀 " * 40,
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over roughly ``seconds`` of wall time."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    print(f"{'case':<16} {'enc':<5} {'parts':>5} {'encode msg/s':>13} {'decode part/s':>14}")
    for name, text in CASES.items():
        msg = encode_submit("+491701234567", text, concat_ref=42)
        assert msg.truncated == name.endswith("truncated"), name
        assert len(msg.parts) == (1 if "1 part" in name or "smart" in name else 6), name
        pdu = msg.parts[0].pdu
        enc = rate(lambda t=text: encode_submit("+491701234567", t, concat_ref=42), seconds)
        dec = rate(lambda p=pdu: decode_submit(p), seconds)
        print(f"{name:<16} {msg.encoding:<5} {len(msg.parts):>5} {enc:>13,.0f} {dec:>14,.0f}")
    long_text = CASES["gsm7 6 parts"]
    print(f"count_parts (6-part gsm7): {rate(lambda: count_parts(long_text), seconds):,.0f}/s")
    report, length = encode_status_report(42, "+491701234567", 0)
    status_rate = rate(lambda: decode_status_report(report, tpdu_length=length), seconds)
    print(f"decode_status_report:      {status_rate:,.0f}/s")


if __name__ == "__main__":
    main()
