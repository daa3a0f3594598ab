"""Parsing the modem's answers (modem/parsing.py): signal, registration, identity."""

from __future__ import annotations

import pytest

from gsmbridge.modem import parsing

NUMBER = "+31612345678"


@pytest.mark.parametrize(
    "lines, rssi, dbm, bars",
    [
        (["+CSQ: 18,99"], 18, -77, 4),
        (["+CSQ:4,0"], 4, -105, 1),
        (["+CSQ: 99,99"], None, None, 0),
        (["+CSQ: 31,0"], 31, -51, 5),
        ([], None, None, 0),
    ],
)
def test_parse_signal(lines, rssi, dbm, bars):
    assert parsing.parse_csq(lines) == rssi
    assert parsing.rssi_to_dbm(rssi) == dbm and parsing.signal_bars(rssi) == bars


@pytest.mark.parametrize(
    "lines, urc, stat",
    [
        (["+CREG: 0,1"], False, 1),
        (['+CREG: 2,5,"00C3","0000E9A0",7'], False, 5),
        (["+CREG: 3"], True, 3),
        (["+CREG: 1, E006B, ABE0016"], True, 1),
        (["junk", "+CREG: 1,2"], False, 2),
    ],
)
def test_parse_registration(lines, urc, stat):
    assert parsing.parse_registration(lines, urc=urc) == stat


def test_parse_identity_and_operator():
    assert parsing.parse_identity(["+CGMI: ZTE CORPORATION"], "AT+CGMI") == "ZTE CORPORATION"
    assert parsing.parse_identity([" WAVECOM MODEM"], "AT+CGMI") == "WAVECOM MODEM"
    assert parsing.parse_identity(["^RSSI:5", "huawei"], "AT+CGMI") == "huawei"
    assert (
        parsing.parse_digits(["+CCID: 8931440400012345678F"], "AT+CCID", 18, 22)
        == "8931440400012345678"
    )
    assert parsing.parse_digits(["IMEI: 356938035643809"], "AT+CGSN", 14, 17) == "356938035643809"
    assert parsing.parse_cops(['+COPS: 0,0,"I OMNITEL"']) == "I OMNITEL"
    assert parsing.parse_cops(["+COPS: 0"]) == ""
    assert parsing.parse_cpin(["+CPIN: SIM PIN"]) == "SIM PIN"
    assert parsing.parse_csca(['+CSCA: "",145']) == ""
