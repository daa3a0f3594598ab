"""The window against a real Bridge: webhooks in, rows out, actions change the store."""

from __future__ import annotations

import socket
import time

import pytest

from gsmbridge.core.models import State
from tests.gui.conftest import client_for, make_jobs, unique_payload


def test_window_opens_running_with_simulated_modem(gui, qtbot):
    window = gui.window
    assert window.isVisible()
    assert "Simulated modem" in window.windowTitle()
    assert window.sim_label.isVisibleTo(window)
    assert window.header.webhook_url == gui.ctx.bridge.url + "/webhook"
    assert not window.banner.isVisibleTo(window)
    qtbot.waitUntil(lambda: "ready" in window.header.modem.text(), timeout=10000)
    assert window.header.modem.text().startswith("Simulated modem")
    assert "simulated" in window.modem_panel.info["state"].text()


def test_webhook_row_appears_and_reaches_sent(gui, qtbot):
    status, _, body = client_for(gui).post("/webhook", unique_payload())
    assert status in (200, 201, 202), body
    model = gui.window.queue.model
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    qtbot.waitUntil(lambda: model.job(0).state in (State.SENT, State.DELIVERED), timeout=15000)
    assert gui.ctx.bridge.modems.simulator_outbox()


def test_cancel_retry_and_edit_number_change_the_store(gui, qtbot):
    bridge = gui.ctx.bridge
    # No number and no contact: the jobs wait in needs-number, the sender leaves them.
    ids = make_jobs(bridge, 3, uid="nobody", phno=None)
    view = gui.window.queue
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)

    view.select_ids([ids[0]])
    view.cancel_selected()
    qtbot.waitUntil(lambda: bridge.store.get(ids[0]).state is State.CANCELLED, timeout=5000)
    qtbot.waitUntil(lambda: view.model.job(view.model.row_of(ids[0])).state is State.CANCELLED)

    view.select_ids([ids[0]])
    view.retry_selected()  # no number yet: back to needs-number
    qtbot.waitUntil(lambda: bridge.store.get(ids[0]).state is State.NEEDS_NUMBER, timeout=5000)

    view.select_ids(ids[1:])
    assert view.act_edit.isEnabled()
    view.set_number(view.selected_ids(), "(212) 555-0142")
    qtbot.waitUntil(lambda: bridge.store.get(ids[1]).number == "+12125550142", timeout=5000)
    assert bridge.store.get(ids[2]).number == "+12125550142"
    assert bridge.store.get_contact("nobody").number == "+12125550142"
    released = (State.QUEUED, State.SENDING, State.SENT, State.DELIVERED)
    assert bridge.store.get(ids[1]).state in released
    # the saved contact released the first job too: it was waiting for the same uid
    qtbot.waitUntil(lambda: bridge.store.get(ids[0]).state in released, timeout=5000)

    (other,) = make_jobs(bridge, 1, uid="somebody-else", phno=None)
    qtbot.waitUntil(lambda: view.model.row_of(other) >= 0, timeout=5000)
    view.select_ids([other])
    view.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: bridge.store.get(other) is None, timeout=5000)
    qtbot.waitUntil(lambda: view.model.row_of(other) == -1, timeout=5000)


def test_edit_number_is_off_for_a_job_under_way_or_gone_out(gui, qtbot):
    """It was on for a sent job, and its OK said "New number set on 0 jobs"."""
    status, _, body = client_for(gui).post("/webhook", unique_payload())
    assert status == 200
    view = gui.window.queue
    store = gui.ctx.bridge.store
    went_out = (State.SENT, State.DELIVERED)
    qtbot.waitUntil(lambda: store.get(body["id"]).state in went_out, timeout=15000)

    def shown_as_gone_out() -> bool:
        job = view.model.job(view.model.row_of(body["id"]))
        return job is not None and job.state in went_out

    qtbot.waitUntil(shown_as_gone_out, timeout=5000)
    view.select_ids([body["id"]])
    assert not view.act_edit.isEnabled()
    assert view.act_retry.isEnabled()  # sending it again is still offered


def test_port_in_use_shows_banner(gui_factory, gui_settings, qtbot):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        gui_settings.server.port = busy.getsockname()[1]
        app = gui_factory(gui_settings)
        window = app.window
        assert window.isVisible()
        assert window.banner.isVisibleTo(window)
        assert "in use" in window.banner.title.text()
        assert "Settings" in window.banner.advice.text()
        assert set(window.banner.buttons()) == {"settings", "start"}
        assert not app.ctx.running
        # the queue is still readable
        assert window.queue.model.store is not None

        # free the port and start again from the banner
        busy.close()
        window.banner.buttons()["start"].click()
        qtbot.waitUntil(lambda: app.ctx.running, timeout=10000)
        assert not window.banner.isVisibleTo(window)
        assert window.header.webhook_url.endswith(f":{gui_settings.server.port}/webhook")


@pytest.mark.parametrize("paused", [True])
def test_pause_and_resume(gui, qtbot, paused):
    window = gui.window
    window.act.pause.setChecked(paused)
    qtbot.waitUntil(lambda: gui.ctx.bridge.sending_paused, timeout=5000)
    assert "paused" in window.windowTitle()
    window.act.pause.setChecked(False)
    qtbot.waitUntil(lambda: not gui.ctx.bridge.sending_paused, timeout=5000)


def test_restart_service_keeps_the_simulator_outbox(gui, qtbot):
    """Restart service made new simulators, and the Modem tab's outbox came back empty
    as if nothing had been sent."""
    client_for(gui).post("/webhook", unique_payload())
    qtbot.waitUntil(lambda: len(gui.ctx.bridge.modems.simulator_outbox()) == 1, timeout=15000)
    sent = gui.ctx.bridge.modems.simulator_outbox()[0]
    old = gui.ctx.bridge
    with qtbot.waitSignal(gui.ctx.started, timeout=15000):
        gui.window.restart_service()
    assert gui.ctx.bridge is not old
    assert gui.ctx.bridge.modems.simulator_outbox() == [sent]
    panel = gui.window.modem_panel
    panel.refresh_outbox()
    assert panel.outbox.rowCount() == 1


def test_a_pause_left_at_quit_is_shown_at_the_next_start(gui_factory, qtbot, tmp_path):
    from gsmbridge.core.instance import remember_paused

    data = tmp_path / "paused-data"
    data.mkdir()
    assert remember_paused(data, True, time.time()) == ""
    app = gui_factory(data_dir=data)
    window = app.window
    qtbot.waitUntil(lambda: app.ctx.bridge.sending_paused, timeout=5000)
    assert window.act.pause.isChecked()
    assert window.act.pause.text() == "Resume sending"
    assert "paused" in window.windowTitle()
    window.act.pause.setChecked(False)
    qtbot.waitUntil(lambda: not (data / "sending.paused").exists(), timeout=5000)
