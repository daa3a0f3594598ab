"""The Contacts tab's opt-out list: a STOP by SMS shows there; a number added by hand
gets no notifications; taking it off sends them again.  A real Bridge and simulator."""

from __future__ import annotations

from gsmbridge.gui.views.tabs.optout_panel import OptOutModel
from tests.gui.test_inbox_view import simulated_modem
from tests.helpers import payload

ALICE = "+12125550100"
BOB = "+12125550111"


def numbers(panel) -> list[str]:
    model = panel.model
    return [model.entry(r).number for r in range(model.rowCount())]


def test_the_opt_out_list_shows_stops_and_is_edited(gui, qtbot) -> None:
    bridge = gui.ctx.bridge
    gui.window.tabs.setCurrentWidget(gui.window.contacts)
    panel = gui.window.contacts.opt_outs
    modem = simulated_modem(gui, qtbot)

    bridge.modems.simulators[modem.url].receive_sms(ALICE, "stop")
    qtbot.waitUntil(lambda: bridge.opt_outs.store.is_opted_out(ALICE), timeout=10000)
    panel.refresh()
    qtbot.waitUntil(lambda: numbers(panel) == [ALICE], timeout=5000)
    index = panel.model.index(0, OptOutModel.COL_SOURCE)
    assert panel.model.data(index) == "replied stop"
    assert panel.model.data(panel.model.index(0, OptOutModel.COL_NUMBER)) == "+*******0100"

    panel.number.setText("not a number")
    panel.add_from_field()
    assert panel.feedback.text().startswith("Not added:")
    panel.number.setText(BOB)
    panel.add_from_field()
    qtbot.waitUntil(lambda: sorted(numbers(panel)) == [ALICE, BOB], timeout=5000)
    refused = bridge.accept(payload(data__to__uid="bob", data__to__phno=BOB))
    # Failed at intake, or by the sender just before sending if it claimed the job first.
    qtbot.waitUntil(lambda: bridge.store.get(refused.id).state.value == "failed", timeout=5000)
    assert bridge.store.get(refused.id).last_error == "recipient opted out"
    assert not [m for m in bridge.modems.simulators[modem.url].sent if m.number == BOB]

    row = numbers(panel).index(BOB)
    panel.table.selectRow(row)
    assert panel.remove_button.isEnabled()
    panel.remove_selected()
    qtbot.waitUntil(lambda: numbers(panel) == [ALICE], timeout=5000)
    sent = bridge.accept(payload(data__to__uid="bob", data__to__phno=BOB, data__smsContent="x"))
    qtbot.waitUntil(
        lambda: bridge.store.get(sent.id).state.value in ("sent", "delivered"), timeout=10000
    )
