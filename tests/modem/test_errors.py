"""Classification of +CMS/+CME errors: what the sender may retry."""

from __future__ import annotations

import pytest

from gsmbridge.modem.errors import (
    CME_ERRORS,
    CMS_ERRORS,
    ConnectionLost,
    ModemError,
    ModemUnavailable,
    classify,
    parse_error,
)

TRANSIENT_CMS = [38, 41, 42, 47, 331, 332, 500, 0xC0, 314, 515]
PERMANENT_CMS = [1, 21, 28, 29, 30, 96, 304, 305, 330, 0xC3, 0xC4, 310, 313, 311, 316, 303]
TRANSIENT_CME = [14, 515, 30, 31, 100]
PERMANENT_CME = [4, 10, 11, 12, 13, 16]


@pytest.mark.parametrize("code", TRANSIENT_CMS)
def test_transient_cms(code):
    assert classify("cms", code)[1] is True


@pytest.mark.parametrize("code", PERMANENT_CMS)
def test_permanent_cms(code):
    assert classify("cms", code)[1] is False


@pytest.mark.parametrize("code", TRANSIENT_CME)
def test_transient_cme(code):
    assert classify("cme", code)[1] is True


@pytest.mark.parametrize("code", PERMANENT_CME)
def test_permanent_cme(code):
    assert classify("cme", code)[1] is False


def test_cms_30_and_cme_30_differ():
    assert classify("cms", 30) == ("unknown subscriber", False)
    assert classify("cme", 30) == ("no network service", True)


@pytest.mark.parametrize(
    "kind, code, transient",
    [
        ("cms", 499, False),
        ("cms", 55, False),
        ("cms", 501, True),
        ("cms", 650, True),
        ("cme", 200, False),
        ("cme", 600, True),
    ],
)
def test_unknown_codes(kind, code, transient):
    name, is_transient = classify(kind, code)
    assert name == f"unknown error {code}" and is_transient is transient


@pytest.mark.parametrize(
    "line, kind, code, name",
    [
        ("+CMS ERROR: 332", "cms", 332, "CMS 332 network timeout"),
        ("+CMS ERROR: network timeout", "cms", 332, "CMS 332 network timeout"),
        ("+CMS ERROR: unknown error", "cms", 500, "CMS 500 unknown error"),
        ("+CMS ERROR: invalid input value", "cms", 304, "CMS 304 invalid PDU mode parameter"),
        ("+CMS ERROR:", "cms", 500, "CMS 500 unknown error"),
        ("+CME ERROR: SIM busy", "cme", 14, "CME 14 SIM busy"),
        ("+CME ERROR: operation not allowed", "cme", 3, "CME 3 operation not allowed"),
        ("+CME ERROR: incorrect password", "cme", 16, "CME 16 incorrect password"),
        ("+cme error: 515", "cme", 515, "CME 515 device busy"),
        ("COMMAND NOT SUPPORT", "cme", 4, "CME 4 operation not supported"),
    ],
)
def test_parse_error_numbers_and_texts(line, kind, code, name):
    err = parse_error(line)
    assert err is not None
    assert (err.kind, err.code, err.name) == (kind, code, name)


def test_cms_text_that_is_a_cme_name_keeps_the_cms_kind():
    err = parse_error("+CMS ERROR: SIM PIN required")
    assert err is not None and err.kind == "cms" and err.code == 311 and not err.transient


def test_unmappable_text_is_transient():
    err = parse_error("+CMS ERROR: frobnicator overheated")
    assert err is not None and err.code is None and err.transient


@pytest.mark.parametrize("line", ["OK", "+CSQ: 5,5", "", "RING"])
def test_non_errors(line):
    assert parse_error(line) is None


def test_plain_error_and_no_carrier():
    plain = parse_error("ERROR")
    carrier = parse_error("NO CARRIER")
    assert plain is not None and plain.code is None and plain.transient
    assert carrier is not None and carrier.kind == "protocol"


def test_hierarchy_and_attributes():
    lost = ConnectionLost("port lost")
    assert isinstance(lost, ModemUnavailable) and isinstance(lost, ModemError)
    assert lost.transient and lost.kind == "io"
    err = ModemError("x", kind="cms", code=42, name="CMS 42 congestion", transient=True)
    assert "cms" in repr(err) and err.maybe_sent is False


def test_tables_have_names():
    assert all(name for name, _ in CMS_ERRORS.values())
    assert all(name for name, _ in CME_ERRORS.values())


# -- texts for the user (issue 12 item 10) -------------------------------------------------

from gsmbridge.modem.errors import describe_open_error, no_answer_text  # noqa: E402


def test_open_error_names_the_port_once_and_says_what_to_do():
    import serial

    exc = serial.SerialException(
        2, "could not open port /dev/ttyUSB9: [Errno 2] No such file or directory: '/dev/ttyUSB9'"
    )
    text = describe_open_error("/dev/ttyUSB9", exc)
    assert text.count("/dev/ttyUSB9") == 1 and "unplugged" in text
    assert "Errno" not in text
    refused = serial.SerialException(
        "Could not open port socket://h:1: [Errno 111] Connection refused"
    )
    assert describe_open_error("socket://h:1", refused).endswith(
        "connection refused (nothing listens there)"
    )


def test_permission_and_busy_hints_differ_on_windows(monkeypatch):
    import serial

    denied = serial.SerialException(
        13, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied"
    )
    monkeypatch.setattr("sys.platform", "linux")
    assert "dialout" in describe_open_error("/dev/ttyUSB0", denied)
    assert "ModemManager" in describe_open_error(
        "/dev/ttyUSB0", OSError(16, "Device or resource busy")
    )
    assert "ModemManager" in no_answer_text(noise=False)
    monkeypatch.setattr("sys.platform", "win32")
    windows = serial.SerialException(
        "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"
    )
    text = describe_open_error("COM3", windows)
    assert "another program" in text and "dialout" not in text
    assert "ModemManager" not in no_answer_text(noise=False)
    assert "baud rate" in no_answer_text(noise=True)


def test_a_modem_answering_garbage_gets_the_baud_rate_hint(peer_factory, modem_factory):
    # Wrong baud rate: bytes arrive, none of them an answer.
    peer = peer_factory(lambda command: b"\r\n\xf0\x9f\xff\xfe\x80\r\n")
    modem = modem_factory(peer.url, command_timeout_s=0.3)
    from tests.modem.conftest import wait_until

    assert wait_until(lambda: "baud rate" in modem.status.last_error, 10), modem.status
