"""The Modem tab against the simulated modem: status, PIN, test SMS, outbox, chart."""

from __future__ import annotations

import time

from PySide6.QtCore import QRect, Qt

from gsmbridge.core.models import State
from gsmbridge.gui.problems import modem_problem
from gsmbridge.service import Bridge
from gsmbridge.simulator import fast_options
from tests.gui.conftest import FAST_MODEM


def test_status_test_sms_and_outbox(gui, qtbot):
    panel = gui.window.modem_panel
    qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
    assert panel.info["imei"].text() == "356938035643809"
    assert panel.info["operator"].text() == "Simulated"
    assert "+CDS" in panel.info["reports"].text()  # the simulator reports inline
    assert "+CMTI" in panel.info["received"].text()  # and announces received SMS
    assert panel.sim_note.isVisibleTo(panel) and panel.outbox_box.isVisibleTo(panel)
    assert panel.info_box.title() == "Simulated modem"
    assert panel.charts_data["sim"]  # a signal reading was recorded

    box = panel.test_sms
    box.text.setPlainText("x" * 161)
    assert "GSM-7 · 2 parts" in box.counter.text()
    box.text.setPlainText("Grüße ✓")
    assert "UCS-2" in box.counter.text()
    box.number.setText("12")
    assert not box.send_button.isEnabled()
    box.number.setText("+1 212 555 0199")
    assert box.send_button.isEnabled()
    with qtbot.waitSignal(box.test_queued, timeout=5000) as queued:
        box.send()
    job_id = queued.args[0]
    assert f"job {job_id}" in box.feedback.text()
    store = gui.ctx.store
    qtbot.waitUntil(lambda: store.get(job_id).state in (State.SENT, State.DELIVERED), timeout=10000)
    gui.window.tabs.setCurrentWidget(panel)  # the outbox refreshes while visible
    qtbot.waitUntil(lambda: panel.outbox.rowCount() >= 1, timeout=5000)
    assert "Grüße" in panel.outbox.data(panel.outbox.index(0, 4))


def test_pin_entry_unlocks_the_sim(gui_factory, qtbot):
    def locked(settings, data_dir):
        return Bridge(
            settings,
            data_dir,
            simulator_options=fast_options(pin="4321"),
            modem_options=FAST_MODEM,
        )

    app = gui_factory(factory=locked)
    panel, window = app.window.modem_panel, app.window
    qtbot.waitUntil(lambda: panel.pin_box.isVisibleTo(panel), timeout=10000)
    assert "3 tries left before the SIM locks" in panel.pin_box.warning.text()
    qtbot.waitUntil(lambda: window.modem_banner.isVisibleTo(window), timeout=5000)
    assert "PIN" in window.modem_banner.title.text()
    # A wrong PIN: the tries left are said where the PIN is typed and in the banner.
    panel.pin_box.edit.setText("1111")
    panel.pin_box.submit()
    qtbot.waitUntil(lambda: "2 tries left" in panel.pin_box.warning.text(), timeout=10000)
    qtbot.waitUntil(lambda: "2 tries left" in window.modem_banner.advice.text(), timeout=5000)
    with qtbot.waitSignal(panel.message_posted) as said:
        panel.pin_box.edit.setText("4321")
        panel.pin_box.submit()
    assert said.args == ["PIN sent to the modem: its state says whether the SIM took it"]
    qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
    assert not panel.pin_box.isVisibleTo(panel)
    assert not window.modem_banner.isVisibleTo(window)


def test_modem_problems_are_explained():
    from gsmbridge.modem.status import ModemStatus

    assert modem_problem(ModemStatus(port="COM3", state="ready")) is None
    lost = modem_problem(ModemStatus(port="COM3", state="error", last_error="port vanished"))
    assert "COM3" in lost.title and "dialout" in lost.advice
    assert "PUK" in modem_problem(ModemStatus(port="COM3", state="puk-required")).message


def test_a_missing_modem_is_explained_in_a_banner(gui_factory, gui_settings, qtbot, tmp_path):
    gui_settings.modem.port = [str(tmp_path / "ttyUSB-not-there")]
    app = gui_factory(gui_settings)
    window = app.window
    assert app.ctx.running  # the webhook still takes notifications
    assert "Simulated" not in window.windowTitle()
    assert not window.sim_label.isVisibleTo(window)
    qtbot.waitUntil(lambda: window.modem_banner.isVisibleTo(window), timeout=10000)
    assert "No modem answers" in window.modem_banner.title.text()
    assert set(window.modem_banner.buttons()) == {"modem", "reconnect"}
    window.modem_banner.buttons()["modem"].click()
    assert window.tabs.currentWidget() is window.modem_panel


def test_connect_saves_the_new_port_and_restarts_with_it_only(gui, qtbot, tmp_path):
    """Connect to another port: saved, the service restarts with it, and the old
    simulated modem leaves the panel, the header and the status bar."""
    import tomllib

    from gsmbridge.simulator import ModemSimulator

    sim = ModemSimulator(fast_options())
    sim.serve_tcp()
    try:
        window, panel = gui.window, gui.window.modem_panel
        qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
        assert set(window.modems) == {"sim"}
        url = sim.url
        panel.port.setEditText(url)
        assert panel.selected_port() == url
        with qtbot.waitSignal(gui.ctx.started, timeout=20000):
            panel.connect_button.click()
        saved = tomllib.loads((tmp_path / "config.toml").read_text())
        assert saved["modem"]["port"] == [url]
        assert gui.ctx.settings.modem.port == [url]
        qtbot.waitUntil(lambda: window.modems.get(url) is not None, timeout=5000)
        qtbot.waitUntil(lambda: window.modems[url].state == "ready", timeout=15000)
        assert set(window.modems) == {url}
        assert set(panel.statuses) == {url} and set(panel.charts_data) == {url}
        assert [panel.modem_select.itemData(i) for i in range(panel.modem_select.count())] == [url]
        assert "sim:" not in window.header.modem.toolTip()
        assert window.header.modem.text().startswith("Modem: ")  # not "Simulated modem"
        assert not window.sim_label.isVisibleTo(window)
        assert "Simulated" not in window.windowTitle()
        assert panel.port_note.text() == f"The service runs with {url}."
        assert "File" not in panel.port_note.text()
        with qtbot.waitSignal(gui.ctx.started, timeout=20000):
            gui.ctx.restart_bridge()  # another restart: the note no longer tells it
        assert panel.port_note.text() == ""
    finally:
        sim.stop()


def test_the_port_picker_follows_a_port_changed_in_settings(gui, qtbot, tmp_path):
    """Settings changed the port and the service restarted on it, but the Modem tab's
    picker still said "sim": its Connect then saved sim and moved the service back to
    the simulator."""
    import copy
    import tomllib

    from gsmbridge.simulator import ModemSimulator

    sim = ModemSimulator(fast_options())
    sim.serve_tcp()
    try:
        panel = gui.window.modem_panel
        assert panel.selected_port() == "sim"
        new = copy.deepcopy(gui.ctx.desired)
        new.modem.port = [sim.url]
        assert gui.ctx.save_and_apply(new, ["modem.port"]) == ["modem.port"]  # as Settings
        with qtbot.waitSignal(gui.ctx.started, timeout=20000):
            gui.ctx.restart_bridge()  # its Restart now
        assert panel.selected_port() == sim.url
        with qtbot.waitSignal(panel.message_posted, timeout=5000) as said:
            panel.connect_button.click()  # the port in use: a reconnect, nothing saved
        assert said.args == [f"Reconnecting {sim.url}…"]
        assert tomllib.loads((tmp_path / "config.toml").read_text())["modem"]["port"] == [sim.url]
        assert gui.ctx.settings.modem.port == [sim.url]
    finally:
        sim.stop()


def test_connect_while_the_service_starts_names_the_real_menu(gui, qtbot):
    panel = gui.window.modem_panel
    gui.ctx.starting = True  # a start in progress: Connect cannot restart now
    try:
        panel._port_saved("COM7", ["modem.port"])
    finally:
        gui.ctx.starting = False
    note = panel.port_note.text()
    assert "gsmbridge → Restart service" in note and "File" not in note
    # The menu it names exists, with that action in it.
    menus = {a.text().replace("&", ""): a.menu() for a in gui.window.menuBar().actions()}
    assert gui.window.act.restart in menus["gsmbridge"].actions()


def test_a_long_last_error_wraps_inside_the_modem_box(gui_factory, gui_settings, qtbot, tmp_path):
    # "cannot open <a long path>: no such port (…advice…)" was cut off at the box's edge.
    gui_settings.modem.port = [str(tmp_path / ("ttyUSB-" + "not-there-" * 6))]
    app = gui_factory(gui_settings)
    window = app.window
    window.resize(1150, 750)
    window.show()
    window.tabs.setCurrentWidget(window.modem_panel)
    panel = window.modem_panel
    label = panel.info["last_error"]
    qtbot.waitUntil(lambda: "cannot open" in label.text(), timeout=10000)
    qtbot.waitUntil(lambda: label.height() > 2 * label.fontMetrics().height(), timeout=3000)
    # The whole text, wrapped at the label's width, fits inside the label: no word
    # runs past its right edge and every line has room.
    wrapped = label.fontMetrics().boundingRect(
        QRect(0, 0, label.width(), 10_000), Qt.TextFlag.TextWordWrap, label.text()
    )
    assert wrapped.width() <= label.width()
    assert wrapped.height() <= label.height()
    assert label.mapTo(panel.info_box, label.rect().topRight()).x() < panel.info_box.width()
    assert label.toolTip() == label.text()


def _ussd_bridge(**sim_options):
    def factory(settings, data_dir):
        return Bridge(
            settings,
            data_dir,
            simulator_options=fast_options(**{"ussd_delay_s": 0.3, **sim_options}),
            modem_options=FAST_MODEM,
        )

    return factory


def test_check_balance_answers_off_the_gui_thread(gui_factory, qtbot):
    answer = "Баланс: 150,00 р. до 31.12"
    app = gui_factory(
        factory=_ussd_bridge(ussd_answer=answer, ussd_coding="ucs2", ussd_delay_s=1.0)
    )
    panel = app.window.modem_panel
    qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
    assert panel.ussd_code.text() == "*100#" and panel.ussd_button.text() == "Check balance"
    clicked = time.monotonic()
    qtbot.mouseClick(panel.ussd_button, Qt.MouseButton.LeftButton)
    # The click returns at once: the GUI thread never waits for the network (1 s).
    assert time.monotonic() - clicked < 0.5
    assert not panel.ussd_button.isEnabled()
    assert panel.ussd_answer.text() == "Asking the network (*100#)…"
    qtbot.waitUntil(lambda: panel.ussd_button.isEnabled(), timeout=10000)
    assert panel.ussd_answer.text() == answer
    assert panel.ussd_when.text().startswith("*100# answered at ")
    # Kept in the status, so the window shows it again and /api/status has it.
    [status] = app.ctx.bridge.modem_statuses()
    assert status.ussd is not None and status.ussd.text == answer
    [api] = app.ctx.bridge.status()["modems"]
    assert api["ussd"]["code"] == "*100#" and api["ussd"]["text"] == answer
    panel.ussd_answer.setText("")
    panel.update_status(status)
    assert panel.ussd_answer.text() == answer


def test_check_balance_without_an_answer_says_why(gui_factory, qtbot):
    app = gui_factory(factory=_ussd_bridge(ussd_coding="error"))
    panel = app.window.modem_panel
    qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
    with qtbot.waitSignal(panel.message_posted, timeout=10000) as posted:
        panel.ussd_button.click()
    assert posted.args[0] == "USSD *100# failed: +CME ERROR: 100"
    assert panel.ussd_answer.text() == posted.args[0] and panel.ussd_button.isEnabled()
    assert "color" in panel.ussd_answer.styleSheet()  # shown as an error
    # A code that is not digits, * and # never leaves the window.
    panel.ussd_code.setText("*100#")
    panel.ussd_code.insert("x")  # the validator refuses it
    assert panel.ussd_code.text() == "*100#"
    panel.ussd_code.setText("")
    panel.check_balance()
    assert "digits, * and #" in panel.ussd_answer.text()


def test_the_balance_box_speaks_of_the_modem_on_show(gui_factory, qtbot):
    """Found by a reviewer: after switching modems (or unlocking the SIM) the box kept an
    old answer, or an old "failed: modem not ready"."""
    import dataclasses

    app = gui_factory(factory=_ussd_bridge(ussd_coding="error"))
    panel = app.window.modem_panel
    qtbot.waitUntil(lambda: panel.info["state"].text().startswith("ready"), timeout=10000)
    with qtbot.waitSignal(panel.message_posted, timeout=10000):
        panel.ussd_button.click()
    failed = panel.ussd_answer.text()
    assert failed.startswith("USSD *100# failed")
    [status] = app.ctx.bridge.modem_statuses()
    panel.update_status(dataclasses.replace(status, signal_bars=2))  # the same state: kept
    assert panel.ussd_answer.text() == failed
    panel.update_status(dataclasses.replace(status, state="connecting"))  # moved on
    assert panel.ussd_answer.text() == "—"
    other = dataclasses.replace(status, port="COM9", ussd=None)
    panel.set_statuses([status, other])
    panel.modem_select.setCurrentIndex(panel.modem_select.findData("COM9"))
    assert panel.ussd_answer.text() == "—" and panel.ussd_when.text() == ""
