"""Modem subcommands for the ``gsmbridge`` CLI: ``modem list``, ``modem ussd`` and
``simulate-modem``.

``register(subparsers)`` adds them; each parser's ``func(args)`` (``func(args,
settings)`` for ``modem ussd``, which uses the app's settings: the config file,
``GSMBRIDGE_*`` variables, then flags, PIN included) returns an exit code.  Thin on
purpose: the work is in ``gsmbridge.modem`` and ``gsmbridge.simulator`` (kept out of
``modem/``, which is a leaf that never imports the simulator).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gsmbridge.cli import modem_access, send
from gsmbridge.cli.common import fail
from gsmbridge.config import Settings, load_settings
from gsmbridge.modem import gsm7
from gsmbridge.modem.errors import ModemError, no_ports_text
from gsmbridge.modem.ports import list_ports, probe_all
from gsmbridge.modem.ussd import MAX_CODE, failure_text, valid_code
from gsmbridge.simulator import ModemSimulator, SimulatorOptions
from gsmbridge.simulator.ussd import CODINGS as USSD_CODINGS

SLICE_S = 0.25  # how soon Ctrl-C stops simulate-modem on Windows


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
    _register_ussd(modem_sub)

    sim = subparsers.add_parser(
        "simulate-modem",
        help="run a simulated modem until Ctrl-C",
        description="Run a simulated GSM modem that speaks AT like a real one, for "
        "trying gsmbridge without hardware; point modem.port (or --modem) at the URL "
        "it prints.  The fault options make it misbehave the ways real modems do.",
    )
    where = sim.add_mutually_exclusive_group()
    where.add_argument(
        "--listen",
        type=listen_address,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="TCP address; clients use socket://HOST:PORT (default port: any)",
    )
    where.add_argument(
        "--pty", action="store_true", help="serve on a pseudo-terminal (Linux, macOS)"
    )
    faults = sim.add_argument_group("behaviour and faults")
    faults.add_argument(
        "--pin",
        dest="sim_pin",
        default=None,
        metavar="PIN",
        help="the SIM asks for this PIN at power-on",
    )
    faults.add_argument(
        "--pin-tries",
        dest="pin_tries_style",
        choices=("3gpp", "quectel", "simcom", "huawei", "zte", "none"),
        default="3gpp",
        help="how it says the PIN tries left: 3GPP's AT+CPINR, a maker's own command "
        "(it then says it is a modem of that maker), or not at all (3gpp)",
    )
    faults.add_argument(
        "--register-delay",
        type=_non_negative(float),
        default=0.0,
        metavar="S",
        help="seconds of searching for the network once the SIM is unlocked (0)",
    )
    faults.add_argument(
        "--prompt-delay",
        type=_non_negative(float),
        default=0.05,
        metavar="S",
        help="seconds before the '>' prompt after AT+CMGS (0.05)",
    )
    faults.add_argument(
        "--send-latency",
        type=_non_negative(float),
        default=0.3,
        metavar="S",
        help="seconds from the message to its +CMGS answer (0.3)",
    )
    faults.add_argument(
        "--report-delay",
        type=_non_negative(float),
        default=0.2,
        metavar="S",
        help="seconds from sending to the delivery report (0.2)",
    )
    faults.add_argument(
        "--report-fail-every",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="every Nth delivery report says the SMS was not delivered (0: never)",
    )
    faults.add_argument(
        "--cms-error-every",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="every Nth send fails with +CMS ERROR (0: never)",
    )
    faults.add_argument(
        "--cms-error-code",
        type=int,
        default=500,
        metavar="CODE",
        help="the +CMS ERROR code of those failures (500: unknown error)",
    )
    faults.add_argument(
        "--drop-every",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="every Nth send drops the connection after the message (0: never)",
    )
    faults.add_argument(
        "--garbage",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="chance per answer of injected junk and URCs (0..1)",
    )
    faults.add_argument(
        "--urc-spam",
        type=_non_negative(float),
        default=0.0,
        metavar="S",
        help="seconds between Huawei-style ^RSSI lines (0: off)",
    )
    faults.add_argument(
        "--reboot-after",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="the modem reboots after every N sends (0: never)",
    )
    faults.add_argument(
        "--reply-every",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="every Nth recipient replies with an SMS (+CMTI), to try the inbox",
    )
    faults.add_argument(
        "--ussd-answer",
        default=SimulatorOptions.ussd_answer,
        metavar="TEXT",
        help="what the network answers a USSD code with",
    )
    faults.add_argument(
        "--ussd-coding",
        choices=USSD_CODINGS,
        default="gsm7",
        help="how that answer comes: gsm7 (plain text), packed (GSM 7-bit hex, as Huawei "
        "sticks), ucs2 (hex), none (no answer: a timeout), error (+CME ERROR), "
        "unsupported (+CUSD: 4)",
    )
    faults.add_argument(
        "--no-echo", action="store_true", help="start with command echo off (as after ATE0)"
    )
    faults.add_argument(
        "--no-status-reports",
        action="store_true",
        help="never send delivery reports, even when asked for",
    )
    sim.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
    sim.set_defaults(func=cmd_simulate)


def _register_ussd(modem_sub: argparse._SubParsersAction) -> None:
    ussd = modem_sub.add_parser(
        "ussd",
        help="send a USSD code (*100#: the prepaid balance) and print the answer",
        description="Send a USSD code through the configured modem (the first of "
        "modem.port, or the one with modem.imei, with modem.pin) and print the "
        "network's answer.  Quote the code in the shell: gsmbridge modem ussd '*100#'.",
    )
    ussd.add_argument("code", help=f"digits, * and # (at most {MAX_CODE}), like *100#")
    # SUPPRESS: the global options given before the command stay.
    ussd.add_argument(
        "--modem",
        default=argparse.SUPPRESS,
        help="port or URL, or 'sim' (default: modem.port from the settings)",
    )
    ussd.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML config file")
    ussd.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, help="database and logs directory"
    )
    ussd.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=argparse.SUPPRESS,
        help="show the modem's log on stderr",
    )
    ussd.add_argument("--pin", default=None, help="SIM PIN (default: modem.pin)")
    ussd.add_argument("--baudrate", type=int, default=None, help="default: modem.baudrate")
    ussd.add_argument(
        "--timeout",
        type=_positive,
        default=30.0,
        metavar="S",
        help="seconds to wait for the network's answer (30)",
    )
    ussd.add_argument(
        "--wait",
        type=_non_negative(float),
        default=60.0,
        metavar="S",
        help="seconds to wait for the modem to be ready (60)",
    )
    # What send.modem_options reads that this command has no flag for.
    ussd.set_defaults(func=cmd_ussd, max_parts=None, no_smart=False)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _fraction(text: str) -> float:
    value = _non_negative(float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be 0..1, not {text}")
    return value


def _error(message: str) -> None:
    print(f"gsmbridge: {message}", file=sys.stderr)


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
        maker = port.label
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
        print(f"({no_ports_text()})")
    return 0


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``PORT``) for --listen; argparse says what is wrong."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST:PORT (for example 127.0.0.1:7001)"
        ) from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is not 0..65535 (0: any free port)")
    return host.strip("[]") or "127.0.0.1", number


def cmd_ussd(args: argparse.Namespace, settings: Settings) -> int:
    """Send a USSD code with the app's modem settings; print the answer (exit 0), or
    one ``gsmbridge:`` line saying why not (exit 1; 2 for a bad code or flag)."""
    code = args.code.strip()
    if not valid_code(code):
        return fail(f"{args.code!r} is not a USSD code: digits, * and # only, like *100#")
    try:
        options = send.modem_options(settings, args)
    except ValueError as exc:
        return fail(str(exc))
    try:
        with modem_access.ready_modem(
            args,
            settings,
            options,
            doing="answer USSD",
            in_app="use Check balance on its Modem tab",
        ) as (modem, simulated):
            try:
                answer = modem.ussd(code, timeout=args.timeout)
            except ModemError as exc:
                return fail(failure_text(code, exc), 1)
            print(answer.text)
            if answer.status == 1:
                print("(the network offers a menu; gsmbridge does not answer menus)")
            if simulated:
                print("(simulated modem: not a real network's answer)")
            return 0
    except modem_access.Refused as exc:
        return fail(str(exc), exc.code)


# A maker's own PIN counter comes with that maker's name: the name is what makes
# gsmbridge ask that way (modem/quirks.py).
_COUNTING_MAKERS = {
    "quectel": ("Quectel", "EC25"),
    "simcom": ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H"),
    "huawei": ("huawei", "E3372"),
    "zte": ("ZTE CORPORATION", "MF833V"),
}


def cmd_simulate(args: argparse.Namespace) -> int:
    maker = _COUNTING_MAKERS.get(args.pin_tries_style)
    options = SimulatorOptions(
        pin=args.sim_pin,
        pin_tries_style=args.pin_tries_style,
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
        ussd_answer=args.ussd_answer,
        ussd_coding=args.ussd_coding,
    )
    if maker:
        options.manufacturer, options.model = maker
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.pty and sys.platform == "win32":
        _error(
            "--pty needs Linux or macOS (Windows has no pseudo-terminals); "
            "use --listen HOST:PORT and point the app at socket://HOST:PORT"
        )
        return 2
    if args.ussd_coding in ("gsm7", "packed") and not gsm7.is_gsm7(args.ussd_answer):
        # A GSM 7-bit answer can only hold GSM characters (the simulator would fail on it).
        _error(
            f"--ussd-answer {args.ussd_answer!r} has characters GSM 7-bit cannot carry; "
            "use --ussd-coding ucs2 for it"
        )
        return 2
    simulator = ModemSimulator(options)
    started = True
    try:
        if args.pty:
            path = simulator.serve_pty()
            print(f"Simulated modem on {path}", flush=True)
        else:
            host, port = args.listen
            try:
                simulator.serve_tcp(host, port)
            except OSError as exc:
                # socket.create_server appends "(while attempting to bind on address
                # ('h', p))" to the reason: the address is said once, in ours.
                reason = str(exc.strerror or exc).split(" (while attempting to bind")[0]
                _error(f"cannot listen on {host}:{port}: {reason}")
                started = False
                return 2
            print(f"Simulated modem at {simulator.url}", flush=True)
        if maker:
            print(f"It says it is a {maker[0]} {maker[1]}.", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            _run_until_interrupted(args.duration)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        simulator.stop()
        if started:
            print(f"Simulated modem stopped; {len(simulator.sent)} SMS received.", flush=True)


def _run_until_interrupted(duration: float | None) -> None:
    """Sleep in short slices until ``duration`` is over (None: forever): on Windows an
    untimed wait blocks Ctrl-C until it returns, which it never would."""
    deadline = None if duration is None else time.monotonic() + duration
    while True:
        left = SLICE_S if deadline is None else min(SLICE_S, deadline - time.monotonic())
        if left <= 0:
            return
        time.sleep(left)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m gsmbridge.cli.modem``) for these commands."""
    parser = argparse.ArgumentParser(prog="gsmbridge")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if args.func is cmd_ussd:  # the app's settings: the file, the environment, --modem
        settings = load_settings(getattr(args, "config", None))
        if getattr(args, "modem", None):
            settings.modem.port = [p.strip() for p in args.modem.split(",") if p.strip()]
        return cmd_ussd(args, settings)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
