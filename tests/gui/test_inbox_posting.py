"""The Inbox tab shows where each reply went in CometChat and its posting state, and
Post again works; against a real Bridge, its simulated modem and a stand-in CometChat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gsmbridge.config import Settings
from gsmbridge.gui.inbox_model import InboxModel
from tests.core.test_replies import CometChatStub
from tests.gui.test_inbox_view import cell, simulated_modem
from tests.helpers import GROUP_NO_CONTENT, payload

ALICE = "+12125550100"
STRANGER = "+12125550999"


@pytest.fixture
def cometchat() -> Iterator[CometChatStub]:
    stub = CometChatStub()
    yield stub
    stub.close()


@pytest.fixture
def posting_settings(gui_settings: Settings, cometchat: CometChatStub) -> Settings:
    gui_settings.replies.to_cometchat = True
    gui_settings.cometchat.api_key = "rest-key"
    gui_settings.cometchat.app_id = "app123"
    gui_settings.cometchat.region = "eu"
    gui_settings.cometchat.api_url = cometchat.url + "/v3"
    return gui_settings


def test_inbox_shows_the_conversation_the_state_and_posts_again(
    gui_factory, posting_settings: Settings, cometchat: CometChatStub, qtbot
) -> None:
    gui = gui_factory(posting_settings)
    bridge, view = gui.ctx.bridge, gui.window.inbox
    modem = simulated_modem(gui, qtbot)
    job = bridge.accept(payload(GROUP_NO_CONTENT, data__to__uid="alice", data__to__phno=ALICE))
    qtbot.waitUntil(
        lambda: bridge.store.get(job.id).state.value in ("sent", "delivered"), timeout=10000
    )

    cometchat.fail = [(403, "ERR_NOT_A_MEMBER", {})]
    simulator = bridge.modems.simulators[modem.url]
    simulator.receive_sms(ALICE, "Count me in")
    simulator.receive_sms(STRANGER, "Who is this?")
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10000)
    qtbot.waitUntil(
        lambda: cell(view, view.model.row_of(1), InboxModel.COL_POSTING).startswith("failed"),
        timeout=10000,
    )
    row = view.model.row_of(1)
    assert cell(view, row, InboxModel.COL_CONVERSATION) == "Hiking Group (group)"
    posting = cell(view, row, InboxModel.COL_POSTING)
    assert posting == "failed: CometChat answered 403 ERR_NOT_A_MEMBER: stand-in ERR_NOT_A_MEMBER"
    stranger = view.model.row_of(2)
    assert cell(view, stranger, InboxModel.COL_POSTING) == "not posted: unknown sender"
    assert cell(view, stranger, InboxModel.COL_CONVERSATION) == ""

    view.select_ids([2])
    assert not view.act_post_again.isEnabled()  # never as anybody
    view.select_ids([1])
    assert view.act_post_again.isEnabled()
    assert "ERR_NOT_A_MEMBER" in view.details_header.text()
    assert "Hiking Group (group) as alice" in view.details_header.text()
    view.act_post_again.trigger()
    qtbot.waitUntil(
        lambda: cell(view, view.model.row_of(1), InboxModel.COL_POSTING) == "posted",
        timeout=10000,
    )
    assert not view.act_post_again.isEnabled()
    assert len(cometchat.posts()) == 2
    assert cometchat.posts()[-1].headers["onbehalfof"] == "alice"


def test_replies_settings_say_the_caveat_and_apply_live(gui, qtbot, tmp_path) -> None:
    import tomllib

    dialog = gui.window.open_settings()
    page = dialog.replies
    assert not page.to_cometchat.isChecked()  # off until the user turns it on
    assert "spoofed" in page.to_cometchat.toolTip()
    page.to_cometchat.setChecked(True)
    # Without the REST API key every reply would fail to post: refused, under the box.
    errors = dialog.validate()
    assert "needs cometchat.api_key" in errors["replies.to_cometchat"]
    assert dialog.fields["replies.to_cometchat"].error.text() == errors["replies.to_cometchat"]
    dialog.tunnel.api_key.setText("rest-api-key")
    dialog.tunnel.app_id.setText("app123")
    dialog.tunnel.region.setCurrentIndex(dialog.tunnel.region.findData("us"))
    page.window_hours.setText("0")
    assert "replies.window_hours" in dialog.validate()
    page.window_hours.setText("24")
    page.opt_out.setText("STOP, ARRET")
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save()
    assert saved.args[0] == []  # no restart needed
    written = tomllib.loads((tmp_path / "config.toml").read_text())["replies"]
    assert written["to_cometchat"] and written["window_hours"] == 24
    replies = gui.ctx.bridge.settings.replies
    assert replies.to_cometchat and replies.opt_out_keywords == ["STOP", "ARRET"]
