"""Port listing, probing and finding a modem by IMEI."""

from __future__ import annotations

import socket
import time

import pytest
import serial
import serial.tools.list_ports
from serial.tools.list_ports_common import ListPortInfo

from gsmbridge.modem.errors import describe_open_error, no_ports_text
from gsmbridge.modem.ports import (
    PortInfo,
    device_sort_key,
    find_by_imei,
    list_ports,
    open_port,
    probe,
    probe_all,
    same_device,
)


def test_list_ports_returns_port_infos():
    ports = list_ports()
    assert all(isinstance(p, PortInfo) and p.device for p in ports)
    assert [p.device for p in ports] == sorted((p.device for p in ports), key=device_sort_key)


def windows_port(
    device: str, description: str, hwid: str = "", manufacturer: str = ""
) -> ListPortInfo:
    """What pyserial's list_ports_windows yields: description and hwid, no product."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    info.hwid = hwid
    info.manufacturer = manufacturer or None
    return info


@pytest.fixture
def comports(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    listed: list[ListPortInfo] = []
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: list(listed))
    return listed


def test_windows_ports_sort_naturally_and_show_their_description(comports, monkeypatch):
    monkeypatch.setattr("sys.platform", "win32")
    comports += [
        windows_port("COM10", "Quectel USB NMEA Port (COM10)", "USB VID:PID=2C7C:0125", "Quectel"),
        windows_port("COM2", "Quectel USB AT Port (COM2)", "USB VID:PID=2C7C:0125", "Quectel"),
        windows_port("com3", "Communications Port (COM3)", "ACPI\\PNP0501\\1"),
        windows_port("COM1", "Communications Port (COM1)", "ACPI\\PNP0501\\0"),
    ]
    ports = list_ports()
    assert [p.device for p in ports] == ["COM1", "COM2", "com3", "COM10"]
    assert ports[1].label == "Quectel USB AT Port (COM2)"  # maker named once
    assert ports[3].label == "Quectel USB NMEA Port (COM10)"
    assert ports[0].label == "Communications Port (COM1)"
    assert PortInfo("/dev/ttyUSB2", manufacturer="Huawei", product="Mobile").label == (
        "Huawei Mobile"
    )
    assert same_device("com3", "COM3") and not same_device("COM3", "COM30")
    monkeypatch.setattr("sys.platform", "linux")
    assert not same_device("/dev/ttyusb0", "/dev/ttyUSB0")


def test_windows_busy_port_and_no_ports_texts(monkeypatch):
    monkeypatch.setattr("sys.platform", "win32")
    held = serial.SerialException(
        "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"
    )
    text = describe_open_error("COM3", held)
    assert text.startswith("cannot open COM3: another program holds the port")
    assert "connection manager" in text and "dialout" not in text and "ModemManager" not in text
    assert "ModemManager" not in describe_open_error("COM3", OSError(16, "busy"))
    assert "Device Manager" in no_ports_text() and "driver" in no_ports_text()
    assert "dialout" not in no_ports_text()
    monkeypatch.setattr("sys.platform", "linux")
    assert "dialout" in no_ports_text() and "Device Manager" not in no_ports_text()


def test_imei_search_skips_bluetooth_ports(sim_factory, comports, monkeypatch):
    monkeypatch.setattr("sys.platform", "win32")
    phone = sim_factory("pty", imei="490154203237518")
    modem = sim_factory("pty", imei="356938035643809")
    comports += [
        windows_port(
            phone.url,
            "Standard Serial over Bluetooth link (COM4)",
            "BTHENUM\\{00001101-0000-1000-8000-00805F9B34FB}_LOCALMFG&0000\\7&1",
        ),
        windows_port(modem.url, "Quectel USB AT Port (COM5)", "USB VID:PID=2C7C:0125"),
    ]
    assert find_by_imei("356938035643809") == modem.url
    assert find_by_imei("490154203237518") is None  # never probed
    # A Bluetooth port the user named is still probed.
    assert find_by_imei("490154203237518", ports=[phone.url]) == phone.url


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


def test_wizard_lists_windows_ports_by_their_description(comports, monkeypatch):
    from gsmbridge.gui.views.wizard.modem import probe_ports

    monkeypatch.setattr("sys.platform", "win32")
    comports += [
        windows_port("COM9", "Quectel USB AT Port (COM9)", "USB VID:PID=2C7C:0125", "Quectel"),
        windows_port("COM7", "Quectel USB Modem (COM7)", "USB VID:PID=2C7C:0125", "Quectel"),
    ]
    found = {device: (text, answers) for device, text, answers in probe_ports(["com7"])}
    assert found["COM7"] == ("in use by gsmbridge now", True)  # com7 is COM7
    text, answers = found["COM9"]  # no such port here: the probe fails, the label stays
    assert text.startswith("Quectel USB AT Port (COM9) · ") and not answers
