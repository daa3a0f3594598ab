"""The sender with a real store, real Modems and the simulator over socket://."""

from __future__ import annotations

import threading
import time

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.core.models import NewJob, State
from gsmbridge.core.sender import Sender, backoff_delay
from gsmbridge.core.store import Store
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.simulator import ModemSimulator, fast_options


def new_job_for(uid: str, number: str) -> NewJob:
    return NewJob(
        uid=uid, name=uid, text="hi", payload={}, dedup_key="", state=State.QUEUED, number=number
    )


class Clock:
    """Real time plus an offset the test can push forward (for rate limits)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Recorder(Listener):
    def __init__(self) -> None:
        self.changes: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def job_changed(self, job_id: int, state: str) -> None:
        with self.lock:
            self.changes.append((job_id, state))


def fast_settings() -> Settings:
    s = Settings()
    s.retry.base_delay_s = 0.01
    s.retry.max_delay_s = 0.05
    s.retry.max_attempts = 5
    s.limits.per_minute = 0
    return s


class WakeOnReady(Listener):
    """What the Bridge does: a modem that becomes ready wakes the sender."""

    def __init__(self) -> None:
        self.sender: Sender | None = None

    def modem_status_changed(self, status) -> None:
        if status.ready and self.sender is not None:
            self.sender.wake()


class Rig:
    """Simulators, modems, a store and a sender, torn down in order."""

    def __init__(
        self, where, settings: Settings, *sim_options, clock=None, node="", lease_s=60.0
    ) -> None:
        """``where``: a store location (a SQLite file or a PostgreSQL URL), or a folder
        for a SQLite file; ``node``, ``lease_s``: this rig's name and lease in a shared store."""
        self.clock = clock or Clock()
        place = where if isinstance(where, str) else where / "q.db"
        self.store = Store(place, clock=self.clock, node=node, lease_s=lease_s)
        self.listener = Recorder()
        self.sims = [ModemSimulator(o) for o in sim_options]
        self.modems = []
        waker = WakeOnReady()
        for sim in self.sims:
            sim.serve_tcp()
            modem = Modem(
                sim.url,
                ModemOptions(
                    reconnect_min_s=0.05,
                    reconnect_max_s=0.2,
                    command_timeout_s=2,
                    poll_interval_s=60,
                    pin=None,
                ),
                listener=waker,
            )
            self.modems.append(modem)
        self.sender = Sender(self.store, self.modems, settings, self.listener, clock=self.clock)
        waker.sender = self.sender
        # Status reports go from the modem to the sender, as the Bridge wires them.
        for modem in self.modems:
            modem._on_status_report = lambda report, name=modem.url: self.sender.status_report(
                name, report
            )
            modem.start()
        for modem in self.modems:
            assert modem.wait_ready(10), modem.status
        self.sender.start()

    def add(self, uid: str, number: str = "+12125550100", text: str = "hello") -> int:
        job_id, _, _ = self.store.enqueue(
            NewJob(
                uid=uid,
                name=uid,
                text=text,
                payload={},
                dedup_key="",
                state=State.QUEUED,
                number=number,
            )
        )
        self.sender.wake()
        return job_id

    def wait_states(self, ids, states, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = {self.store.get(i).state.value for i in ids}
            if got <= set(states):
                return
            time.sleep(0.02)
        raise AssertionError({i: self.store.get(i).state.value for i in ids})

    def close(self) -> None:
        self.sender.stop()
        for modem in self.modems:
            modem.stop()
        for sim in self.sims:
            sim.stop()
        self.store.close()


@pytest.fixture
def rigs(location: str):
    """Rigs on each backend: the folder a test passes is replaced by its store location."""
    made = []

    def make(_where, *args, **kw) -> Rig:
        rig = Rig(location, *args, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def test_backoff_grows_and_is_capped() -> None:
    s = Settings().retry
    assert backoff_delay(1, s, lambda: 1.0) == 30
    assert backoff_delay(1, s, lambda: 0.0) == 15
    assert backoff_delay(3, s, lambda: 1.0) == 120
    assert backoff_delay(20, s, lambda: 1.0) == s.max_delay_s
    total = sum(backoff_delay(a, s, lambda: 0.75) for a in range(1, s.max_attempts))
    assert 40 * 60 < total < 90 * 60  # "about 8 attempts over an hour"


def test_batch_through_faults_ends_sent_once_each(tmp_path, rigs) -> None:
    rig = rigs(
        tmp_path,
        fast_settings(),
        fast_options(cms_error_every=4, drop_every=7, garbage=0.2, seed=3),
    )
    ids = [rig.add(f"u{i}", f"+1212555{i:04d}") for i in range(25)]
    rig.wait_states(ids, {"sent", "delivered"}, timeout=40)
    numbers = [m.number for m in rig.sims[0].sent]
    for i in range(25):
        assert numbers.count(f"+1212555{i:04d}") == 1  # none lost, none twice
    retried = [
        j
        for j in ids
        if rig.store.get(j).last_error == ""
        and any(e.kind in ("retry", "paused") for e in rig.store.events(j))
    ]
    assert retried, "the injected faults should have caused retries"


def test_permanent_error_fails_with_its_name_and_does_not_block(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options(cms_error_every=2, cms_error_code=1))
    first = rig.add("a", "+12125550001")
    rig.wait_states([first], {"sent", "delivered"})
    bad = rig.add("b", "+12125550002")  # send #2 -> CMS 1
    rig.wait_states([bad], {"failed"})
    job = rig.store.get(bad)
    assert "unassigned number" in job.last_error
    assert job.attempts == 1  # permanent: not retried
    after = rig.add("c", "+12125550003")
    rig.wait_states([after], {"sent", "delivered"})


def test_a_job_that_cannot_be_encoded_says_why_in_full(tmp_path, rigs) -> None:
    """The job's own fault is said whole (what to fix), not only "cannot encode"."""
    rig = rigs(tmp_path, fast_settings(), fast_options())
    rig.modems[0].options.validity_minutes = -5  # what a negative setting once reached
    bad = rig.add("a", "+12125550001")
    rig.wait_states([bad], {"failed"})
    job = rig.store.get(bad)
    assert job.last_error.startswith("cannot encode: validity must not be negative: -5")
    assert job.attempts == 1


def test_transient_errors_give_up_after_max_attempts(tmp_path, rigs) -> None:
    settings = fast_settings()
    settings.retry.max_attempts = 3
    rig = rigs(tmp_path, settings, fast_options(cms_error_every=1, cms_error_code=332))
    job_id = rig.add("t")
    rig.wait_states([job_id], {"failed"})
    job = rig.store.get(job_id)
    assert job.attempts == 3
    assert job.last_error.startswith("gave up after 3 attempts")
    assert "network timeout" in job.last_error


def test_failed_delivery_report_fails_the_job(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options(report_fail_every=1))
    job_id = rig.add("r")
    rig.wait_states([job_id], {"failed"})
    assert rig.store.get(job_id).last_error.startswith("not delivered:")


def test_a_modem_that_stores_reports_still_delivers_jobs(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options(reports_stored_only=True))
    job_id = rig.add("long", text="x" * 400)  # 3 parts, 3 stored reports
    rig.wait_states([job_id], {"delivered"})
    # The last report is deleted from the SIM just after it was handed on: wait for it.
    deadline = time.monotonic() + 5
    while rig.sims[0].modem.report_memory.used:
        assert time.monotonic() < deadline, "a stored report was never deleted"
        time.sleep(0.02)


def test_multipart_delivered_only_when_all_parts_are(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options())
    job_id = rig.add("long", text="x" * 400)  # 3 parts
    rig.wait_states([job_id], {"delivered"})
    job = rig.store.get(job_id)
    assert job.parts_total == 3 and len(job.references) == 3
    assert rig.sims[0].sent[0].text == "x" * 400


def test_resumes_a_multipart_message_after_a_dropped_part(tmp_path, rigs) -> None:
    # Send #2 (the second part) drops the connection: part 1 must not be sent again.
    rig = rigs(tmp_path, fast_settings(), fast_options(drop_every=2))
    job_id = rig.add("long", text="y" * 400)
    rig.wait_states([job_id], {"sent", "delivered"}, timeout=30)
    parts = [p.seq for p in rig.sims[0].parts]
    assert parts.count(1) == 1, parts
    assert sorted(parts) == [1, 2, 3]
    assert rig.sims[0].sent[0].text == "y" * 400


def test_per_minute_limit_holds_and_releases(tmp_path, rigs) -> None:
    settings = fast_settings()
    settings.limits.per_minute = 2
    rig = rigs(tmp_path, settings, fast_options(status_reports=False))
    ids = [rig.add(f"p{i}", f"+1212555010{i}") for i in range(2)]
    rig.wait_states(ids[:1], {"sent"})
    deadline = time.monotonic() + 5
    while "waiting: limit of 2 SMS per minute" not in rig.store.get(ids[1]).note:
        assert time.monotonic() < deadline, rig.store.get(ids[1])
        time.sleep(0.02)
    assert rig.store.get(ids[1]).state is State.QUEUED  # held, not failed
    rig.clock.offset += 31  # one every 30 s
    rig.sender.wake()
    rig.wait_states([ids[1]], {"sent"})


def test_per_minute_limit_counts_sms_parts(tmp_path, rigs) -> None:
    # A 3-part message uses 3 of a 3-per-minute allowance: the next one waits.
    settings = fast_settings()
    settings.limits.per_minute = 3
    rig = rigs(tmp_path, settings, fast_options(status_reports=False))
    long_id = rig.add("long", "+12125550100", text="x" * 400)
    rig.wait_states([long_id], {"sent"})
    assert rig.store.get(long_id).parts_total == 3
    short_id = rig.add("short", "+12125550101")
    deadline = time.monotonic() + 5
    while "limit of 3 SMS per minute" not in rig.store.get(short_id).note:
        assert time.monotonic() < deadline, rig.store.get(short_id)
        time.sleep(0.02)
    rig.clock.offset += 61
    rig.sender.wake()
    rig.wait_states([short_id], {"sent"})


def test_jobs_arriving_while_held_get_the_note_without_a_write_each(tmp_path, rigs) -> None:
    settings = fast_settings()
    settings.limits.per_minute = 1
    rig = rigs(tmp_path, settings, fast_options(status_reports=False))
    rig.wait_states([rig.add("first", "+12125550100")], {"sent"})
    notes: list[str] = []
    annotate = rig.store.annotate_waiting
    rig.store.annotate_waiting = lambda note, **kw: notes.append(note) or annotate(note, **kw)
    ids = []
    for i in range(20):  # a burst of webhooks: the intake wakes with force=False
        ids.append(rig.store.enqueue(new_job_for(f"burst{i}", f"+1212555020{i % 10}"))[0])
        rig.sender.wake(force=False)
    deadline = time.monotonic() + 5
    while not all("limit of 1 SMS per minute" in rig.store.get(i).note for i in ids):
        assert time.monotonic() < deadline, [rig.store.get(i).note for i in ids]
        time.sleep(0.05)
    assert len(notes) <= 3, notes  # written with the job, or throttled: not one per webhook


def test_per_recipient_limit_does_not_block_others(tmp_path, rigs) -> None:
    settings = fast_settings()
    settings.limits.per_recipient_per_hour = 1
    rig = rigs(tmp_path, settings, fast_options(status_reports=False))
    first = rig.add("same1", "+12125550100")
    rig.wait_states([first], {"sent"})
    second = rig.add("same2", "+12125550100")
    other = rig.add("other", "+12125550199")
    rig.wait_states([other], {"sent"})
    held = rig.store.get(second)
    assert held.state is State.QUEUED and "per recipient per hour" in held.note
    assert held.attempts == 0


def test_two_modems_share_the_load_and_fail_over(tmp_path, rigs) -> None:
    opts = fast_options(send_latency_s=0.02, status_reports=False)
    rig = rigs(tmp_path, fast_settings(), opts, opts)
    ids = [rig.add(f"s{i}", f"+1212555{i:04d}") for i in range(20)]
    rig.wait_states(ids, {"sent"})
    assert rig.sims[0].sent and rig.sims[1].sent
    # The first modem goes away: everything else goes through the second.
    rig.modems[0].stop()
    rig.sims[0].stop()
    more = [rig.add(f"f{i}", f"+1313555{i:04d}") for i in range(10)]
    rig.wait_states(more, {"sent"})
    assert {rig.store.get(j).modem for j in more} == {rig.modems[1].url}


def test_pause_holds_and_resume_sends(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options(status_reports=False))
    rig.sender.pause()
    job_id = rig.add("paused")
    time.sleep(0.3)
    assert rig.store.get(job_id).state is State.QUEUED
    rig.sender.resume()
    rig.wait_states([job_id], {"sent"})


def test_locked_sim_pauses_without_burning_attempts(location: str) -> None:
    rig_opts = fast_options(pin="1234", status_reports=False)
    sim = ModemSimulator(rig_opts)
    sim.serve_tcp()
    store = Store(location)
    modem = Modem(sim.url, ModemOptions(reconnect_min_s=0.05, command_timeout_s=2))
    sender = Sender(store, [modem], fast_settings(), Listener())
    try:
        modem.start()
        deadline = time.monotonic() + 5
        while modem.status.state != "pin-required":
            assert time.monotonic() < deadline, modem.status
            time.sleep(0.02)
        sender.start()
        job_id, _, _ = store.enqueue(
            NewJob(
                uid="x",
                name="",
                text="t",
                payload={},
                dedup_key="",
                state=State.QUEUED,
                number="+12125550100",
            )
        )
        sender.wake()
        time.sleep(0.3)
        assert store.get(job_id).state is State.QUEUED and store.get(job_id).attempts == 0
        modem.enter_pin("1234")
        assert modem.wait_ready(5)
        sender.wake()
        deadline = time.monotonic() + 10
        while store.get(job_id).state is not State.SENT:
            assert time.monotonic() < deadline, store.get(job_id)
            time.sleep(0.02)
        assert store.get(job_id).attempts == 1
    finally:
        sender.stop()
        modem.stop()
        sim.stop()
        store.close()


def test_coalescing_merges_waiting_jobs_for_one_recipient(tmp_path, rigs) -> None:
    settings = fast_settings()
    settings.sending.coalesce = True
    settings.sending.coalesce_window_s = 60
    rig = rigs(tmp_path, settings, fast_options(status_reports=False))
    rig.sender.pause()  # let three notifications for Ann pile up
    ann = [rig.add(f"ann-{i}", "+12125550100", text=f"note {i}") for i in range(3)]
    bob = rig.add("bob", "+12125550199", text="for bob")
    rig.sender.resume()
    rig.wait_states([*ann, bob], {"sent"})
    texts = sorted(m.text for m in rig.sims[0].sent)
    assert texts == ["3 new messages:\n- note 0\n- note 1\n- note 2", "for bob"]
    merged = [rig.store.get(j) for j in ann[1:]]
    assert all(j.merged_into == ann[0] for j in merged)
    assert all(j.sent_at == rig.store.get(ann[0]).sent_at for j in merged)
    # A person retrying one merged job (on purpose: it went out) sends it on its own.
    assert rig.store.retry([ann[1]]) == []
    assert rig.store.retry([ann[1]], force=True) == [ann[1]]
    rig.sender.wake()
    rig.wait_states([ann[1]], {"sent"})
    assert rig.store.get(ann[1]).merged_into is None
    assert rig.sims[0].sent[-1].text == "note 1"


def test_coalescing_is_off_by_default(tmp_path, rigs) -> None:
    rig = rigs(tmp_path, fast_settings(), fast_options(status_reports=False))
    rig.sender.pause()
    ids = [rig.add(f"c{i}", "+12125550100", text=f"t{i}") for i in range(2)]
    rig.sender.resume()
    rig.wait_states(ids, {"sent"})
    assert sorted(m.text for m in rig.sims[0].sent) == ["t0", "t1"]


def test_a_sent_sms_whose_result_cannot_be_written_waits_and_is_never_left_sending(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk when an SMS had gone out left the job "sending" (the write failed and
    was dropped), and crash_policy=resend sent it again at the next start.  The failure
    is injected where SQLite raises it (SQLITE_FULL: "database or disk is full")."""
    import logging
    import sqlite3

    rig = Rig(tmp_path, fast_settings(), fast_options(status_reports=False))
    try:
        real = rig.store.mark_sent
        failures = [2]

        def full_disk(*args, **kwargs):
            if failures[0]:
                failures[0] -= 1
                raise sqlite3.OperationalError("database or disk is full")
            return real(*args, **kwargs)

        rig.store.mark_sent = full_disk  # type: ignore[method-assign]
        caplog.set_level(logging.WARNING, logger="gsmbridge.core.sender")
        job_id = rig.add("full")
        rig.wait_states([job_id], {"sent"}, timeout=20)  # written once the disk had room
        assert failures == [0]
        assert len(rig.sims[0].sent) == 1  # sent once, never again
        waits = [r.getMessage() for r in caplog.records if "waits for" in r.getMessage()]
        assert waits == [
            "A sent job's result waits for the queue database to be writable: "
            "database or disk is full"
        ]
    finally:
        rig.close()
