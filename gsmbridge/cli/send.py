"""``gsmbridge send``: one SMS now, with the settings the app uses.

Settings come the app's way (defaults, the config file, ``GSMBRIDGE_*`` variables,
then flags): ``modem.port`` (or ``modem.imei``), ``modem.pin``, ``modem.baudrate``,
``sending.default_region`` for the number, ``sending.smart_encoding`` and
``sending.max_parts``.  Before waiting for the modem it checks what can be checked at
once (the number, whether the device exists, whether a running gsmbridge holds the
modem) and stops waiting as soon as the modem cannot get ready by itself (the port
does not open, the SIM wants a PIN it does not have).
"""

from __future__ import annotations

import argparse

from gsmbridge.cli import modem_access
from gsmbridge.cli.common import fail
from gsmbridge.config import Settings, valid_pin
from gsmbridge.core.phones import normalise
from gsmbridge.modem.errors import ModemError
from gsmbridge.modem.gsm import ModemOptions

SIM_NOTICE = "(simulated modem: nothing is really sent)"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    send = subparsers.add_parser(
        "send",
        help="send one SMS now, with the app's modem settings",
        description="Send one SMS now through the configured modem (the first of "
        "modem.port, or the one with modem.imei), with the PIN, baud rate and "
        "default region from the config file and the environment.",
    )
    send.add_argument(
        "number", help="destination: +31612345678, or a national number in sending.default_region"
    )
    send.add_argument("text", help="the message")
    # SUPPRESS: a global --modem given before the subcommand stays.
    send.add_argument(
        "--modem",
        default=argparse.SUPPRESS,
        help="port or URL, or 'sim' (default: modem.port from the settings)",
    )
    send.add_argument("--pin", default=None, help="SIM PIN (default: modem.pin)")
    send.add_argument(
        "--no-smart",
        action="store_true",
        help="no smart replacement of characters outside GSM 7-bit "
        "(default: sending.smart_encoding)",
    )
    send.add_argument(
        "--max-parts",
        type=int,
        default=None,
        help="longest message in parts (default: sending.max_parts)",
    )
    send.add_argument("--baudrate", type=int, default=None, help="default: modem.baudrate")
    send.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the modem to be ready (60)"
    )
    send.set_defaults(func=cmd_send)
    return send


def modem_options(settings: Settings, args: argparse.Namespace) -> ModemOptions:
    """The app's modem options, with this command's flags on top; ValueError if a flag
    is out of range."""
    m, sending = settings.modem, settings.sending
    pin = m.pin if args.pin is None else args.pin.strip()
    if pin and not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    max_parts = sending.max_parts if args.max_parts is None else args.max_parts
    if not 1 <= max_parts <= 255:
        raise ValueError("--max-parts must be 1..255")
    baudrate = m.baudrate if args.baudrate is None else args.baudrate
    if baudrate <= 0:
        raise ValueError("--baudrate must be positive")
    return ModemOptions(
        baudrate=baudrate,
        pin=pin or None,
        smart_encoding=sending.smart_encoding and not args.no_smart,
        max_parts=max_parts,
        status_reports=sending.status_reports,
        validity_minutes=sending.validity_minutes or None,
        register_timeout_s=m.register_timeout_s,
        send_timeout_s=m.send_timeout_s,
        reconnect_max_s=5.0,
    )


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    region = settings.sending.default_region
    if not args.text.strip():
        return fail("the message is empty: give the text to send")
    if args.wait < 0:
        return fail("--wait must be 0 or more seconds")
    try:
        number = normalise(args.number, region)
        options = modem_options(settings, args)
    except ValueError as exc:  # InvalidNumber too: it names the default country used
        return fail(str(exc))
    try:
        with modem_access.ready_modem(
            args, settings, options, doing="send", in_app="send a test SMS from its Modem tab"
        ) as (modem, simulated):
            try:
                result = modem.send_sms(number, args.text)
            except ModemError as exc:
                return fail(
                    f"send failed: {exc.name}"
                    + (" (the SMS may have been sent)" if exc.maybe_sent else ""),
                    1,
                )
            except ValueError as exc:
                return fail(str(exc))
            refs = ", ".join(map(str, result.references))
            print(
                f"Sent to {number}: encoding {result.encoding}, {result.parts} "
                f"part{'s' if result.parts != 1 else ''}, references {refs}"
                + (" (text truncated)" if result.truncated else "")
                + (f" {SIM_NOTICE}" if simulated else "")
            )
            return 0
    except modem_access.Refused as exc:
        return fail(str(exc), exc.code)
