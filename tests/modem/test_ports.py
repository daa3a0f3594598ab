"""Port listing, probing and finding a modem by IMEI."""

from __future__ import annotations

import socket
import time

from gsmbridge.modem.ports import PortInfo, find_by_imei, list_ports, open_port, probe, probe_all


def test_list_ports_returns_port_infos():
    ports = list_ports()
    assert all(isinstance(p, PortInfo) and p.device for p in ports)
    assert [p.device for p in ports] == sorted(p.device for p in ports)


def test_vid_pid_format():
    assert PortInfo("COM3", vid=0x12D1, pid=0x1506).vid_pid == "12d1:1506"
    assert PortInfo("/dev/ttyS0").vid_pid == ""


def test_probe_simulator_reads_identity(sim_factory):
    sim = sim_factory("pty", imei="490154203237518")
    result = probe(sim.url)
    assert result.answers and result.imei == "490154203237518"
    assert result.model == "Simulated GSM modem" and result.manufacturer == "gsmbridge"


def test_probe_silent_peer_returns_in_time():
    server = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        started = time.monotonic()
        result = probe(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=0.6)
        assert not result.answers and result.error
        assert time.monotonic() - started < 1.5
    finally:
        server.close()


def test_probe_missing_port():
    result = probe("/dev/does-not-exist-gsmbridge", timeout=0.5)
    assert not result.answers and result.error


def test_find_by_imei_picks_the_right_port(sim_factory):
    first = sim_factory("tcp", imei="111111111111116")
    second = sim_factory("pty", imei="222222222222224")
    ports = [first.url, "socket://127.0.0.1:1", second.url]
    assert find_by_imei("222222222222224", ports=ports, timeout=1.0) == second.url
    assert find_by_imei("333333333333332", ports=ports, timeout=1.0) is None
    assert [r.answers for r in probe_all(ports, 1.0)] == [True, False, True]


def test_open_port_accepts_urls():
    port = open_port("loop://")
    try:
        port.write(b"AT\r")
        assert port.read(3) == b"AT\r"
    finally:
        port.close()
