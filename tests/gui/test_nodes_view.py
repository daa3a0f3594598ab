"""The Nodes tab on a shared store: every PC sharing the queue with its modems, health
and last heartbeat, a silent one shown down.  A real Bridge on a real PostgreSQL."""

from __future__ import annotations

from gsmbridge.core.store import Store
from gsmbridge.gui.views.tabs.nodes_view import NodesModel
from tests.helpers import FakeClock


def _cells(model: NodesModel, col: int) -> list[str]:
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def test_the_nodes_tab_lists_the_pcs_sharing_the_queue(
    gui_factory, gui_settings, pg_url, qtbot
) -> None:
    gui_settings.store.url = pg_url
    gui_settings.store.node = "front"
    other = Store(pg_url, node="back")  # the second PC, beating with its modem
    gone = Store(pg_url, node="old", clock=FakeClock(1000.0))  # silent since long ago
    try:
        other.heartbeat("9.9", [{"port": "COM3", "key": "back:COM3", "state": "ready"}])
        gone.heartbeat("9.8", [], starting=True)
        gui = gui_factory()
        view = gui.window.nodes_view
        assert view is not None
        gui.window.tabs.setCurrentWidget(view)  # shown: read at once, then every 5 s
        qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10000)
        model = view.model
        assert _cells(model, NodesModel.COL_NAME) == ["back", "front (this PC)", "old"]
        health = _cells(model, NodesModel.COL_HEALTH)
        assert health[0] == "up, 1 of 1 modem(s) ready" and health[2] == "down"
        assert _cells(model, NodesModel.COL_MODEMS)[0] == "COM3 (ready)"
        assert view.feedback.text() == "Down: old"
    finally:
        other.close()
        gone.close()


def test_one_pcs_own_queue_has_no_nodes_tab(gui) -> None:
    assert gui.window.nodes_view is None
    titles = [gui.window.tabs.tabText(i) for i in range(gui.window.tabs.count())]
    assert "Nodes" not in titles


def test_the_window_says_when_the_shared_store_is_away_and_what_waits(
    gui_factory, gui_settings, pg_url, pg_cluster, qtbot
) -> None:
    from tests.gui.conftest import client_for
    from tests.helpers import payload

    Store(pg_url).close()
    gui_settings.store.url = pg_url
    gui_settings.store.node = "front"
    pg_cluster.halt()  # the database PC is still booting when this one starts
    try:
        gui = gui_factory()
        banner = gui.window.store_banner
        qtbot.waitUntil(lambda: banner.isVisible(), timeout=5000)
        status, _, _ = client_for(gui).post("/webhook", payload(data__to__uid="early"))
        assert status == 200
        qtbot.waitUntil(lambda: "1 notification(s) wait" in banner.advice.text(), timeout=5000)
        assert banner.title.text() == "The shared store is unreachable"
    finally:
        pg_cluster.resume()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=15000)


def test_a_shared_queue_that_refuses_this_pc_says_so_not_the_disk(
    gui_factory, gui_settings, pg_cluster, qtbot
) -> None:
    """A refusal by the shared store (here: no such database) once read "The queue
    database cannot be opened … check the disk is not full"; it names the store now."""
    gui_settings.store.url = pg_cluster.url("nowhere")
    app = gui_factory(gui_settings)
    window = app.window
    assert not app.ctx.running
    qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=5000)
    assert window.banner.title.text() == "The shared queue refuses this PC"
    assert "no such database" in window.banner.message.text()
    assert "store.url" in window.banner.advice.text()
    assert "start" in window.banner.buttons()


def test_the_nodes_tab_says_when_this_pc_s_clock_is_off(
    gui_factory, gui_settings, pg_url, qtbot
) -> None:
    gui_settings.store.url = pg_url
    gui_settings.store.node = "front"
    gui = gui_factory()
    view = gui.window.nodes_view
    assert view is not None
    store = gui.ctx.store
    qtbot.waitUntil(lambda: store.clock_skew_s is not None, timeout=10000)  # the first beat
    store.clock_skew_s = -42.0  # as a heartbeat would measure it (the next is 20 s away)
    gui.window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: "clock" in view.feedback.text(), timeout=10000)
    assert "42 s behind the database server's" in view.feedback.text()
