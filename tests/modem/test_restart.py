"""Modem restarts (issue 13): one restart costs one recovery, no report is lost, and the
sender waits quietly.  A real store, sender and Modem against the simulator's realistic
boot (port gone, boot lines trailing, reports held while down), over socket:// and a pty.
"""

from __future__ import annotations

import logging
import time

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.core.models import NewJob, State
from gsmbridge.core.sender import Sender
from gsmbridge.core.store import Store
from gsmbridge.modem.gsm import Modem
from gsmbridge.modem.status import ModemStatus
from gsmbridge.modem.urcs import BootWatch, boot_rank
from tests.modem.conftest import TRANSPORTS, fast_modem_options, wait_until

# Lines about one message each (sent, reported, delivered): not what a reset costs.
_PER_MESSAGE = ("Sending SMS", "SMS to", "Job ", "Status report for", "Report for")
# Not about the modem: the one line saying the new store was made.
_STORE_SETUP = ("Database created",)


class WakeOnReady(Listener):
    """What the Bridge does: a modem that becomes ready wakes the sender."""

    def __init__(self) -> None:
        self.sender: Sender | None = None

    def modem_status_changed(self, status: ModemStatus) -> None:
        if status.ready and self.sender is not None:
            self.sender.wake()


def _settings() -> Settings:
    settings = Settings()
    settings.retry.base_delay_s = 0.05
    settings.retry.max_delay_s = 0.2
    settings.limits.per_minute = 0
    return settings


@pytest.fixture
def run_resets(tmp_path, sim_factory, caplog):
    teardown: list = []

    def run(transport: str, style: str, trail: float):
        return _run_resets(tmp_path, sim_factory, caplog, teardown, transport, style, trail)

    yield run
    for step in teardown:
        step()


def _run_resets(tmp_path, sim_factory, caplog, teardown, transport, style, trail):
    """24 notifications through a modem that resets after every 6 messages."""
    sim = sim_factory(
        transport,
        reboot_after=6,
        reboot_downtime_s=0.3,
        boot_trail_s=trail,
        boot_style=style,
        report_delay_s=0.05,
    )
    store = Store(tmp_path / "q.db")
    waker = WakeOnReady()
    sender_box: list[Sender] = []
    modem = Modem(
        sim.url,
        fast_modem_options(prompt_timeout_s=2.0, poll_interval_s=30.0),
        listener=waker,
        on_status_report=lambda report: sender_box[0].status_report(sim.url, report),
    )
    sender = Sender(store, [modem], _settings(), waker)
    sender_box.append(sender)
    waker.sender = sender
    caplog.set_level(logging.INFO, logger="gsmbridge")
    teardown += [sender.stop, modem.stop, store.close]
    modem.start()
    assert modem.wait_ready(10), modem.status
    sender.start()
    ids = []
    for i in range(24):
        job_id, _, _ = store.enqueue(
            NewJob(
                uid=f"u{i}",
                name="",
                text=f"note {i}",
                payload={},
                dedup_key="",
                state=State.QUEUED,
                number=f"+1212555{i:04d}",
            )
        )
        ids.append(job_id)
    sender.wake()
    done = wait_until(
        lambda: all(store.get(j).state is State.DELIVERED for j in ids), 60 if trail > 2 else 25
    )
    assert done, {j: (store.get(j).state.value, store.get(j).note) for j in ids}
    # The reset after the 24th message too: recovered before counting.
    assert wait_until(lambda: sim.modem.boots == 4, 10)
    assert wait_until(lambda: modem.status.ready and modem.initialisations >= 5, 30), (
        modem.initialisations,
        modem.connects,
        modem.status,
    )
    return sim, modem, store, sender, ids


# Each transport and each boot style runs in the fast suite; the other two pairings
# (14 s and 5 s) run with -m slow, to keep the suite short.
@pytest.mark.parametrize(
    ("transport", "style"),
    [
        (TRANSPORTS[0], "simcom"),
        (TRANSPORTS[-1], "quectel"),
        pytest.param(TRANSPORTS[-1], "simcom", marks=pytest.mark.slow),
        pytest.param(TRANSPORTS[0], "quectel", marks=pytest.mark.slow),
    ],
)
def test_a_reset_every_6_messages_costs_one_recovery_each(run_resets, caplog, transport, style):
    sim, modem, store, sender, ids = run_resets(transport, style, trail=1.0)
    resets = sim.modem.boots
    # One recovery per reset: over a socket the port is gone and opened again once;
    # over a pty it never closes and the modem is initialised again on it.
    assert modem.initialisations == 1 + resets
    assert modem.connects == (1 + resets if transport == "tcp" else 1)
    assert modem.boot.restarts == (0 if transport == "tcp" else resets)
    # Every report the modem emitted reached its job (all delivered above), none left.
    # (one per part the simulator accepted: a part whose +CMGS was lost is sent again)
    assert sim.modem._reports == len(sim.parts) >= 24
    assert wait_until(lambda: sim.modem.report_memory.used == 0)
    # The sender did not spin: one claim per job, plus at most one send cut per reset;
    # no attempt was burnt on the modem's outage.
    worker = sender._workers[0]
    assert 24 <= worker.claims <= 24 + resets, worker.claims
    assert [store.get(j).attempts for j in ids] == [1] * 24
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 2 * resets, [r.getMessage() for r in warnings]
    about_resets = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("gsmbridge")
        and not r.name.startswith("gsmbridge.simulator")
        and not r.getMessage().startswith(_PER_MESSAGE + _STORE_SETUP)
    ]
    assert len(about_resets) <= 12 * (1 + resets), about_resets


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_resets_with_realistic_boot_timing(run_resets, transport):
    # The firmware's lines trail the port's return by 11 s, as on real SIM800 modems.
    sim, modem, _store, _sender, _ids = run_resets(transport, "simcom", trail=11.0)
    assert modem.initialisations == 1 + sim.modem.boots
    assert modem.connects == (1 + sim.modem.boots if transport == "tcp" else 1)


def test_boot_lines_in_order_are_one_boot_and_a_repeat_is_a_new_one():
    watch = BootWatch()
    ranks = [boot_rank(line) for line in ("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready")]
    assert watch.line(ranks[0], initialised=True)  # a RDY after initialisation: restarted
    assert not any(watch.line(r, initialised=True) for r in ranks[1:])
    assert watch.in_progress() and watch.settle_left() > 0
    assert not watch.line(boot_rank("SMS Ready"), initialised=True)
    assert not watch.in_progress() and watch.settle_left() == 0
    assert watch.line(boot_rank("+CFUN: 1"), initialised=True)  # after SMS Ready: new boot
    assert boot_rank("^BOOT:20952,0,0,0,72") is None  # Huawei's periodic line
    assert boot_rank("+QIND: SMS DONE") == boot_rank("SMS READY")
    # A port that just came back: its trailing lines, RDY too during the first init.
    watch.expect()
    assert not watch.line(boot_rank("RDY"), initialised=False)
    watch.expect()
    assert watch.line(boot_rank("RDY"), initialised=True)  # initialised: a new start


def test_a_report_stored_during_reinitialisation_is_swept(sim_factory, modem_factory):
    # The reset's report comes while the port is gone and while AT+CNMI is reset
    # (ds=0: stored unannounced); the sweep after the re-initialisation applies it.
    reports = []
    sim = sim_factory(
        "tcp", reboot_after=1, reboot_downtime_s=0.3, boot_trail_s=0.6, report_delay_s=0.2
    )
    modem = modem_factory(sim.url, on_status_report=reports.append)
    assert modem.wait_ready(5)
    result = modem.send_sms("+31612345678", "before the reset")
    assert wait_until(lambda: sim.modem.boots == 1)
    assert wait_until(lambda: [r.message_reference for r in reports] == result.references, 10)
    assert wait_until(lambda: sim.modem.report_memory.used == 0)
    assert modem.initialisations == 2


def test_the_sender_claims_nothing_while_the_modem_is_down(tmp_path, sim_factory, caplog):
    sim = sim_factory("tcp")
    store = Store(tmp_path / "q.db")
    modem = Modem(sim.url, fast_modem_options())
    sender = Sender(store, [modem], _settings(), Listener())
    caplog.set_level(logging.INFO, logger="gsmbridge")
    try:
        modem.start()
        assert modem.wait_ready(5)
        sim.modem.on_port_down()  # the USB device vanished and stays away
        assert wait_until(lambda: not modem.status.ready)
        sender.start()
        ids = [
            store.enqueue(
                NewJob(
                    uid=f"w{i}",
                    name="",
                    text="t",
                    payload={},
                    dedup_key="",
                    state=State.QUEUED,
                    number=f"+1212555000{i}",
                )
            )[0]
            for i in range(5)
        ]
        for _ in range(5):
            sender.wake()
        # The reason, not just "queued" (a job written meanwhile has the one known then).
        assert wait_until(lambda: all("cannot open" in store.get(j).note for j in ids))
        time.sleep(0.3)  # several wake-ups and loops
        assert sender._workers[0].claims == 0
        assert all(store.get(j).state is State.QUEUED for j in ids)
        away = [r for r in caplog.records if "jobs wait for it" in r.getMessage()]
        assert len(away) == 1
        sim.modem.on_port_back()
        assert modem.wait_ready(10)
        sender.wake()
        assert wait_until(lambda: all(store.get(j).state is State.SENT for j in ids), 10)
        assert sender._workers[0].claims == 5
        assert [r.getMessage() for r in caplog.records].count(
            f"Modem {sim.url} is ready again; sending resumes"
        ) == 1
        assert not any("not ready" in store.get(j).note for j in ids)
    finally:
        sender.stop()
        modem.stop()
        store.close()
