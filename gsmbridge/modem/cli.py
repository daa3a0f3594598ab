"""Modem subcommands for the ``gsmbridge`` CLI: ``modem list``, ``send``, ``simulate-modem``.

``register(subparsers)`` adds them; each parser's ``func(args)`` returns an exit code.
Thin on purpose: the work is in ports.py, gsm.py and simulator.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from gsmbridge.modem.errors import ModemError
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.modem.ports import list_ports, probe_all
from gsmbridge.modem.simulator import ModemSimulator, SimulatorOptions

ENV_PORT = "GSMBRIDGE_MODEM_PORT"


def register(subparsers: argparse._SubParsersAction) -> None:
    modem = subparsers.add_parser("modem", help="serial ports and modems")
    modem_sub = modem.add_subparsers(dest="modem_command", required=True)
    lst = modem_sub.add_parser("list", help="list serial ports and whether a modem answers")
    lst.add_argument(
        "--probe",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send AT to each port (default: yes)",
    )
    lst.add_argument("--timeout", type=float, default=1.5, help="probe timeout per port (s)")
    lst.set_defaults(func=cmd_list)

    send = subparsers.add_parser("send", help="send one SMS now")
    send.add_argument("number", help="destination, e.g. +31612345678")
    send.add_argument("text")
    # SUPPRESS: do not overwrite a global --modem given before the subcommand.
    send.add_argument(
        "--modem", default=argparse.SUPPRESS, help=f"port or URL, or 'sim' (default: ${ENV_PORT})"
    )
    send.add_argument("--pin", default=None, help="SIM PIN, if the SIM asks for one")
    send.add_argument(
        "--no-smart",
        action="store_true",
        help="no smart replacement of characters outside GSM 7-bit",
    )
    send.add_argument("--max-parts", type=int, default=6)
    send.add_argument("--baudrate", type=int, default=115200)
    send.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the modem to be ready"
    )
    send.set_defaults(func=cmd_send)

    sim = subparsers.add_parser("simulate-modem", help="run a simulated modem until Ctrl-C")
    where = sim.add_mutually_exclusive_group()
    where.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="TCP address; clients use socket://HOST:PORT (default port: any)",
    )
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (POSIX)")
    faults = sim.add_argument_group("behaviour and faults")
    faults.add_argument("--pin", dest="sim_pin", default=None, help="require this SIM PIN")
    faults.add_argument("--register-delay", type=float, default=0.0, metavar="S")
    faults.add_argument("--prompt-delay", type=float, default=0.05, metavar="S")
    faults.add_argument("--send-latency", type=float, default=0.3, metavar="S")
    faults.add_argument("--report-delay", type=float, default=0.2, metavar="S")
    faults.add_argument("--report-fail-every", type=int, default=0, metavar="N")
    faults.add_argument("--cms-error-every", type=int, default=0, metavar="N")
    faults.add_argument("--cms-error-code", type=int, default=500, metavar="CODE")
    faults.add_argument("--drop-every", type=int, default=0, metavar="N")
    faults.add_argument(
        "--garbage",
        type=float,
        default=0.0,
        metavar="P",
        help="chance per answer of injected junk and URCs (0..1)",
    )
    faults.add_argument(
        "--urc-spam",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds between Huawei-style ^RSSI lines (0: off)",
    )
    faults.add_argument("--reboot-after", type=int, default=0, metavar="N")
    faults.add_argument(
        "--reply-every",
        type=int,
        default=0,
        metavar="N",
        help="every Nth recipient replies with an SMS (+CMTI), to try the inbox",
    )
    faults.add_argument("--no-echo", action="store_true")
    faults.add_argument("--no-status-reports", action="store_true")
    sim.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
    sim.set_defaults(func=cmd_simulate)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    ports = list_ports()
    probes = (
        {r.url: r for r in probe_all([p.device for p in ports], args.timeout)}
        if args.probe and ports
        else {}
    )
    rows = [("PORT", "VID:PID", "MANUFACTURER / PRODUCT", "AT", "MODEL", "IMEI")]
    for port in ports:
        result = probes.get(port.device)
        answers = "-" if result is None else ("yes" if result.answers else "no")
        maker = " / ".join(x for x in (port.manufacturer, port.product or port.description) if x)
        rows.append(
            (
                port.device,
                port.vid_pid or "-",
                maker or "-",
                answers,
                result.model if result and result.answers else "",
                result.imei if result and result.answers else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if not ports:
        print("(no serial ports found)")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    # The global --modem may list several ports ("COM3,COM4"); send uses the first.
    given = getattr(args, "modem", None) or os.environ.get(ENV_PORT, "")
    url = given.split(",")[0].strip()
    if not url:
        _error(f"no modem given (use --modem PORT, --modem sim, or set {ENV_PORT})")
        return 2
    options = ModemOptions(
        baudrate=args.baudrate,
        pin=args.pin,
        smart_encoding=not args.no_smart,
        max_parts=args.max_parts,
        simulated=url == "sim",
        reconnect_max_s=5.0,
    )
    modem = Modem(url, options)
    modem.start()
    try:
        if not modem.wait_ready(args.wait):
            status = modem.status
            _error(
                f"modem not ready after {args.wait:.0f} s: {status.state}"
                + (f" ({status.last_error})" if status.last_error else "")
            )
            return 1
        try:
            result = modem.send_sms(args.number, args.text)
        except ModemError as exc:
            _error(
                f"send failed: {exc.name}"
                + (" (the SMS may have been sent)" if exc.maybe_sent else "")
            )
            return 1
        except ValueError as exc:
            _error(str(exc))
            return 2
        refs = ", ".join(map(str, result.references))
        print(
            f"Sent to {args.number}: encoding {result.encoding}, {result.parts} "
            f"part{'s' if result.parts != 1 else ''}, references {refs}"
            + (" (text truncated)" if result.truncated else "")
        )
        return 0
    finally:
        modem.stop()


def cmd_simulate(args: argparse.Namespace) -> int:
    options = SimulatorOptions(
        pin=args.sim_pin,
        register_delay_s=args.register_delay,
        prompt_delay_s=args.prompt_delay,
        send_latency_s=args.send_latency,
        report_delay_s=args.report_delay,
        report_fail_every=args.report_fail_every,
        cms_error_every=args.cms_error_every,
        cms_error_code=args.cms_error_code,
        drop_every=args.drop_every,
        garbage=args.garbage,
        urc_spam=args.urc_spam,
        reboot_after=args.reboot_after,
        reply_every=args.reply_every,
        echo=not args.no_echo,
        status_reports=not args.no_status_reports,
    )
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    simulator = ModemSimulator(options)
    try:
        if args.pty:
            path = simulator.serve_pty()
            print(f"Simulated modem on {path}", flush=True)
        else:
            host, _, port = args.listen.rpartition(":")
            try:
                simulator.serve_tcp(host or "127.0.0.1", int(port or 0))
            except (OSError, ValueError) as exc:
                _error(f"cannot listen on {args.listen}: {exc}")
                return 2
            print(f"Simulated modem at {simulator.url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait(args.duration)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        simulator.stop()
        print(f"Simulated modem stopped; {len(simulator.sent)} SMS received.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m gsmbridge.modem.cli``) for these commands."""
    parser = argparse.ArgumentParser(prog="gsmbridge")
    parser.add_argument("--modem", default=None, help=argparse.SUPPRESS)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
