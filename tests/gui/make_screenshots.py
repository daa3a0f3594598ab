"""Grab the window's tabs offscreen into docs/screenshots/*.png (a script, not a test).

    QT_QPA_PLATFORM=offscreen python -m tests.gui.make_screenshots [output dir]

Runs a real Bridge with the simulated modem on a temporary data directory,
queues a handful of notifications (sent, delivered, waiting for a number,
failed, cancelled, queued while paused) and grabs each tab.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gsmbridge.config import Settings, hash_password  # noqa: E402
from gsmbridge.gui.app import GuiApp  # noqa: E402
from gsmbridge.logs import setup_logging  # noqa: E402
from tests.gui.conftest import fast_bridge  # noqa: E402
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, Client, payload  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

PEOPLE = [
    ("cometchat-uid-1", "+12125550123", "Andrew Joseph", "Are we meeting this weekend?"),
    ("cometchat-uid-2", "+12125550124", "George Alan", "The trail starts at 9, bring water"),
    ("cometchat-uid-3", "+12125550125", "Nancy Grace", "Invoice #2291 is ready for review"),
    ("cometchat-uid-5", "+12125550126", "John Paul", "Can you call me when you land?"),
    ("cometchat-uid-6", "+12125550127", "Emma Stone", "Lunch moved to 12:30 ☀️"),
]


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def wait(condition, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(condition)
        pump(0.05)


def main(out: Path = OUT) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("gsmbridge")
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(None, "INFO", stderr=False)
    tmp = Path(tempfile.mkdtemp(prefix="gsmbridge-shots-"))
    settings = Settings()
    settings.server.port = 0
    settings.auth.username = "cometchat"
    settings.auth.password_hash = hash_password("screenshot-password")
    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0
    gui = GuiApp(
        settings,
        tmp / "data",
        config_path=tmp / "config.toml",
        bridge_factory=fast_bridge,
        route_qt_messages=False,
        use_tray=False,
    )
    gui.start()
    window = gui.window
    window.resize(1240, 780)
    wait(lambda: gui.ctx.running)
    bridge = gui.ctx.bridge
    wait(lambda: any(s.state == "ready" for s in bridge.modem_statuses()))
    client = Client(bridge.web.port, "cometchat", "screenshot-password")

    for uid, number, name, text in PEOPLE:
        client.post(
            "/webhook",
            payload(
                ONE_TO_ONE,
                data__to__uid=uid,
                data__to__phno=number,
                data__to__name=name,
                data__smsContent=f"{text} — Susan Marie",
            ),
        )
    client.post("/webhook", payload(GROUP_NO_CONTENT))
    wait(lambda: bridge.store.counts().get("delivered", 0) + bridge.store.counts()["sent"] >= 6)

    # Problems a real day has: a number CometChat did not send, one the operator refused.
    client.post(
        "/webhook",
        payload(
            ONE_TO_ONE,
            data__to__uid="cometchat-uid-9",
            data__to__phno=None,
            data__to__name="Kim Lee",
            data__smsContent="New message from Susan Marie",
        ),
    )
    window.act.pause.setChecked(True)
    wait(lambda: bridge.sending_paused)
    for uid, number, name, text in PEOPLE[:3]:
        client.post(
            "/webhook",
            payload(
                ONE_TO_ONE,
                data__to__uid=uid,
                data__to__phno=number,
                data__to__name=name,
                data__smsContent=f"Reminder: {text}",
            ),
        )
    queued = bridge.store.list_jobs(states=["queued"], limit=10)
    bridge.store.mark_failed(queued[0].id, "+CMS ERROR: 38 (network out of order)")
    bridge.events.job_changed(queued[0].id, "failed")
    bridge.jobs.cancel([queued[1].id])
    pump(1.0)

    window.queue.model.flush()
    window.queue.select_ids([queued[0].id])
    gui.ctx.tasks.wait()
    pump(0.6)
    window.tabs.setCurrentWidget(window.queue)
    pump(0.3)
    window.grab().save(str(out / "main-window.png"))
    window.queue.grab().save(str(out / "queue.png"))

    window.tabs.setCurrentWidget(window.log_view)
    pump(0.4)
    window.log_view.grab().save(str(out / "log.png"))

    window.tabs.setCurrentWidget(window.modem_panel)
    window.modem_panel.test_sms.number.setText("+1 212 555 0199")
    pump(1.2)
    window.modem_panel.grab().save(str(out / "modem.png"))

    gui.ctx.bridge.contacts.add("cometchat-uid-9", "+12125550130", "Kim Lee")
    gui.ctx.bridge.contacts.add("cometchat-uid-10", "+442071838750", "Oliver Twist")
    window.contacts.model.reload()
    window.contacts.new_uid.setText("cometchat-uid-11")
    window.contacts.new_number.setText("0151 2345")
    window.tabs.setCurrentWidget(window.contacts)
    pump(0.4)
    window.contacts.grab().save(str(out / "contacts.png"))

    # Replies: what the recipients sent back to the SIM.
    sim = bridge.modems.simulators[bridge.modems[0].url]
    sim.receive_sms("+12125550123", "Yes! Saturday at 10, I'll bring the maps.")
    sim.receive_sms("+12125550125", "Thanks, reviewed it. All good, paying today.")
    sim.receive_sms("+12125550199", "Who is this? Please stop texting me.")
    wait(lambda: bridge.store.count_incoming() >= 3)
    window.tabs.setCurrentWidget(window.inbox)
    pump(0.6)
    window.inbox.table.selectRow(1)
    pump(0.3)
    window.inbox.grab().save(str(out / "inbox.png"))

    dialog = window.open_settings()
    dialog.server.port.setText("70000")
    dialog.validate()
    pump(0.3)
    dialog.grab().save(str(out / "settings.png"))
    dialog.reject()

    gui.shutdown()
    statistics(out, tmp / "history")
    replies(out, tmp / "replies")
    print(f"screenshots in {out}")


def seed_history(data_dir: Path, days: int = 30) -> None:
    """A month of a small office's traffic, through the store's own write path on a
    moved clock: busier weekdays, a network outage one afternoon (retries, slow sends,
    failures), a few recipients out of reach, cancellations."""
    import datetime as dt
    import random

    from gsmbridge.core.models import NewJob, State
    from gsmbridge.core.store import Store
    from gsmbridge.service import DB_NAME

    rng = random.Random(18)
    clock = [time.time()]
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / DB_NAME, clock=lambda: clock[0])
    today = dt.date.today()
    ref = 0
    now = time.time()
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        weekend = day.weekday() >= 5
        outage = back == 9
        count = rng.randint(4, 10) if weekend else rng.randint(22, 38)
        for _ in range(count):
            hour = rng.uniform(8, 19)
            start = dt.datetime.combine(day, dt.time()).timestamp() + hour * 3600
            if start > now - 3600:  # today: only what already happened
                continue
            clock[0] = start
            uid, number, name, text = rng.choice(PEOPLE)
            job_id, _, _ = store.enqueue(
                NewJob(
                    uid=uid,
                    name=name,
                    text=text,
                    payload={},
                    dedup_key="",
                    state=State.QUEUED,
                    number=number,
                )
            )
            roll = rng.random()
            if roll < 0.02:
                store.cancel([job_id])
                continue
            if outage and roll < 0.35:
                clock[0] += rng.uniform(600, 3000)
                store.mark_failed(job_id, "+CMS ERROR: 38 (network out of order)")
                continue
            delay = rng.uniform(2, 12) if not outage else rng.uniform(300, 2400)
            clock[0] += delay
            job = store.claim_next(modem="sim", now=clock[0])
            assert job is not None and job.id == job_id
            ref = (ref + 1) % 256
            store.record_part(job_id, 1, ref, 0)
            store.mark_sent(job_id, parts_total=1)
            clock[0] += rng.uniform(4, 40) * (1 if rng.random() < 0.9 else 8)
            if roll > 0.975:
                store.record_report("sim", ref, "", delivered=False, detail="absent subscriber")
            elif roll > 0.06:
                store.record_report("sim", ref, "", delivered=True, detail="delivered")
    store.close()


def statistics(out: Path, data_dir: Path) -> None:
    """The Statistics tab over a month of history (its own data directory)."""
    seed_history(data_dir)
    settings = Settings()
    settings.server.port = 0
    settings.auth.username = "cometchat"
    settings.auth.password_hash = hash_password("screenshot-password")
    settings.modem.port = ["sim"]
    settings.limits.per_day = 200
    gui = GuiApp(
        settings,
        data_dir,
        config_path=data_dir.parent / "config-history.toml",
        bridge_factory=fast_bridge,
        route_qt_messages=False,
        use_tray=False,
    )
    gui.start()
    window = gui.window
    window.resize(1240, 780)
    wait(lambda: gui.ctx.running)
    shown: list[object] = []
    window.stats_view.stats_shown.connect(shown.append)
    window.tabs.setCurrentWidget(window.stats_view)
    wait(lambda: bool(shown))
    pump(0.4)
    window.stats_view.grab().save(str(out / "statistics.png"))
    gui.shutdown()


def replies(out: Path, data_dir: Path) -> None:
    """The Inbox with replies posted into CometChat (a stand-in answers its REST API)."""
    from tests.core.test_replies import CometChatStub

    cometchat = CometChatStub()
    settings = Settings()
    settings.server.port = 0
    settings.auth.username = "cometchat"
    settings.auth.password_hash = hash_password("screenshot-password")
    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0
    settings.replies.to_cometchat = True
    settings.cometchat.api_key = "rest-key"
    settings.cometchat.app_id = "app123"
    settings.cometchat.region = "us"
    settings.cometchat.api_url = cometchat.url + "/v3"
    gui = GuiApp(
        settings,
        data_dir,
        config_path=data_dir.parent / "config-replies.toml",
        bridge_factory=fast_bridge,
        route_qt_messages=False,
        use_tray=False,
    )
    gui.start()
    window = gui.window
    window.resize(1400, 780)
    wait(lambda: gui.ctx.running)
    bridge = gui.ctx.bridge
    wait(lambda: any(s.state == "ready" for s in bridge.modem_statuses()))
    for uid, number, name, _text in PEOPLE[:3]:
        bridge.accept(payload(ONE_TO_ONE, data__to__uid=uid, data__to__phno=number,
                              data__to__name=name))  # fmt: skip
    bridge.accept(payload(GROUP_NO_CONTENT, data__to__uid="cometchat-uid-5",
                          data__to__phno="+12125550126", data__to__name="John Paul"))  # fmt: skip
    wait(lambda: bridge.store.counts().get("delivered", 0) + bridge.store.counts()["sent"] >= 4)
    sim = bridge.modems.simulators[bridge.modems[0].url]
    sim.receive_sms("+12125550123", "Yes! Saturday at 10, I'll bring the maps.")
    wait(lambda: len(cometchat.posts()) >= 1)
    cometchat.fail = [(403, "ERR_NOT_A_MEMBER", {}, "The user is not a member of the group.")]
    sim.receive_sms("+12125550126", "Count me in for the hike, see you at 9")
    wait(lambda: len(cometchat.posts()) >= 2)
    sim.receive_sms("+12125550124", "STOP")
    sim.receive_sms("+12125550199", "Who is this?")
    wait(lambda: bridge.store.count_incoming() >= 4)
    pump(1.0)
    window.tabs.setCurrentWidget(window.inbox)
    window.inbox.model.reload()
    pump(0.6)
    window.inbox.select_ids([2])
    pump(0.3)
    window.inbox.grab().save(str(out / "replies.png"))
    gui.shutdown()
    cometchat.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
