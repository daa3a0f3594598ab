"""STOP honoured: opt-out keywords, the list, and notifications refused at intake and
just before sending."""

from __future__ import annotations

import pytest

from gsmbridge.core.intake import Accepted
from gsmbridge.core.models import NewJob, State
from gsmbridge.core.optout import CONFIRM_TEXT, CONFIRM_UID, Keyword, keyword_of
from gsmbridge.core.store import Store
from gsmbridge.core.store_replies import OPTED_OUT, PostState
from tests.core.test_replies import Rig, make_rig, make_settings
from tests.core.test_replies_store import NUMBER, sent_job
from tests.helpers import ONE_TO_ONE, FakeClock


@pytest.fixture
def rig(store: Store, clock: FakeClock) -> Rig:
    return make_rig(store, make_settings("http://127.0.0.1:9"), clock)  # never posts here


OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
IN = ["START", "UNSTOP"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("stop", Keyword.OPT_OUT),
        ("  Unsubscribe.\n", Keyword.OPT_OUT),
        ("Quit!", Keyword.OPT_OUT),
        ("start", Keyword.OPT_IN),
        ("UNSTOP", Keyword.OPT_IN),
        ("please stop texting me", None),
        ("STOP\nno wait", None),
        ("stopp", None),
        ("", None),
    ],
)
def test_keywords_alone_on_the_line_in_any_case(text: str, expected: Keyword | None) -> None:
    assert keyword_of(text, OUT, IN) is expected


def test_the_keyword_list_is_configurable() -> None:
    assert keyword_of("ARRET", ["arret"], IN) is Keyword.OPT_OUT
    assert keyword_of("STOP", ["arret"], IN) is None


def queue(rig: Rig, number: str = NUMBER, uid: str = "cometchat-uid-1") -> int:
    job_id, _, _ = rig.store.enqueue(
        NewJob(uid=uid, name="A", text="new message", payload=ONE_TO_ONE, dedup_key="",
               state=State.QUEUED, number=number)
    )  # fmt: skip
    return job_id


def test_stop_opts_out_is_not_posted_and_fails_waiting_notifications(rig: Rig) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    waiting = queue(rig)  # queued before the STOP
    stop = rig.receive("Stop")
    post = rig.replies.store.get_post(stop.id)
    assert post.state is PostState.NOT_POSTED and post.error.startswith("opt-out (Stop)")
    assert rig.replies.store.is_opted_out(NUMBER)
    job = rig.store.get(waiting)
    assert job.state is State.FAILED and job.last_error == OPTED_OUT
    assert (waiting, "failed") in rig.seen.jobs
    assert rig.confirmations == []  # off by default
    rig.replies._work_once()
    assert rig.replies.store.claim_post(rig.clock.now) is None


def test_a_notification_to_an_opted_out_number_is_refused_at_intake_and_before_sending(
    rig: Rig,
) -> None:
    opt_outs = rig.replies.opt_outs
    opt_outs.add(NUMBER, "added by hand")
    job_id = queue(rig)
    accepted = opt_outs.after_intake(Accepted(job_id, State.QUEUED, False))
    assert accepted.state is State.FAILED
    assert rig.store.get(job_id).last_error == OPTED_OUT
    # A job queued before the STOP and already past intake: refused before sending.
    job = rig.store.get(queue(rig))
    assert opt_outs.refuse(job) == OPTED_OUT
    assert opt_outs.refuse(rig.store.get(queue(rig, "+12125550777"))) == ""
    assert opt_outs.refuse(rig.store.get(queue(rig, uid=CONFIRM_UID))) == ""  # the confirmation
    confirmation = Accepted(queue(rig, uid=CONFIRM_UID), State.QUEUED, False)
    assert opt_outs.after_intake(confirmation) == confirmation


def test_start_takes_the_number_off_the_list(rig: Rig) -> None:
    rig.replies.opt_outs.add(NUMBER, "replied STOP")
    start = rig.receive("START")
    post = rig.replies.store.get_post(start.id)
    assert post.state is PostState.NOT_POSTED and "off the opt-out list" in post.error
    assert not rig.replies.store.is_opted_out(NUMBER)
    job_id = queue(rig)
    accepted = rig.replies.opt_outs.after_intake(Accepted(job_id, State.QUEUED, False))
    assert accepted.state is State.QUEUED


def test_the_optional_confirmation_sms(rig: Rig) -> None:
    rig.settings.replies.confirm_opt_out = True
    rig.receive("STOP")
    rig.receive("STOP", sent_at=123.0)  # already on the list: no second confirmation
    assert rig.confirmations == [(NUMBER, CONFIRM_TEXT)]


def test_a_store_gone_at_intake_leaves_the_check_to_the_sender(rig: Rig) -> None:
    rig.replies.opt_outs.add(NUMBER, "added by hand")
    accepted = Accepted(queue(rig), State.QUEUED, False)
    spooled = Accepted(-3, State.QUEUED, False)  # in the local spool: not a job yet
    assert rig.replies.opt_outs.after_intake(spooled) == spooled
    if not rig.store.dialect.shared:
        return  # one PC's SQLite file does not go away while gsmbridge runs
    rig.store.close()  # PostgreSQL: every use now fails as during an outage
    assert rig.replies.opt_outs.after_intake(accepted) == accepted  # answered, not raised


def test_with_nobody_on_the_list_a_webhook_pays_no_read_for_it(rig: Rig, monkeypatch) -> None:
    """Issue 19: the intake check reads the list at most once a second while it is empty;
    a number put on it here is checked at the very next webhook."""
    opt_outs = rig.replies.opt_outs
    store = opt_outs.store
    reads: list[str] = []
    for name in ("has_opt_outs", "job_opted_out"):
        real = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _real=real, _name=name: reads.append(_name) or _real(*a)
        )
    for _ in range(20):
        accepted = opt_outs.after_intake(Accepted(queue(rig), State.QUEUED, False))
        assert accepted.state is State.QUEUED
    assert reads == ["has_opt_outs"]  # once for the burst, no per-job read
    opt_outs.add(NUMBER, "added by hand")
    accepted = opt_outs.after_intake(Accepted(queue(rig), State.QUEUED, False))
    assert accepted.state is State.FAILED  # at once, not a second later
