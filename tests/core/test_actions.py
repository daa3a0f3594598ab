"""Job and contact actions (core/actions.py) over a real store, with nothing started:
each writes through the store, tells the listeners and wakes the sender."""

from __future__ import annotations

from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.actions import TEST_UID, ContactActions, JobActions
from gsmbridge.core.events import Listener
from gsmbridge.core.models import State
from gsmbridge.core.phones import InvalidNumber
from tests.core.conftest import new_job


class Recorder(Listener):
    def __init__(self) -> None:
        self.changed: list[tuple[int, str]] = []
        self.lists = 0
        self.wakes = 0

    def job_changed(self, job_id: int, state: str) -> None:
        self.changed.append((job_id, state))

    def jobs_changed(self) -> None:
        self.lists += 1

    def wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def settings() -> Settings:
    s = Settings()
    s.sending.default_region = "DE"
    return s


@pytest.fixture
def jobs(store, recorder: Recorder, settings: Settings) -> JobActions:
    return JobActions(store, recorder, recorder.wake, settings)


@pytest.fixture
def contacts(store, recorder: Recorder, settings: Settings) -> ContactActions:
    return ContactActions(store, recorder, recorder.wake, settings)


def failed_job(store) -> int:
    job_id, _, _ = store.enqueue(new_job("u1"))
    store.mark_failed(job_id, "no credit")
    return job_id


def test_retry_requeues_a_failed_job_announces_it_and_wakes_the_sender(
    jobs: JobActions, store, recorder: Recorder
) -> None:
    job_id = failed_job(store)
    assert jobs.retry([job_id]) == [job_id]
    assert store.get(job_id).state is State.QUEUED
    assert recorder.changed == [(job_id, "queued")] and recorder.wakes == 1


def test_a_sent_job_is_sent_again_only_on_purpose(jobs: JobActions, store, recorder) -> None:
    store.enqueue(new_job("u1"))
    job = store.claim_next(modem="m")
    store.record_part(job.id, 1, 7, 0)
    store.mark_sent(job.id, parts_total=1)
    assert jobs.retry([job.id]) == [] and jobs.retry_all_failed() == []
    assert recorder.changed == [] and recorder.wakes == 0  # nothing changed, nothing woken
    assert jobs.retry([job.id], force=True) == [job.id]
    assert store.get(job.id).state is State.QUEUED and recorder.wakes == 1


def test_cancel_and_delete(jobs: JobActions, store, recorder: Recorder) -> None:
    a, _, _ = store.enqueue(new_job("a"))
    b, _, _ = store.enqueue(new_job("b"))
    assert jobs.cancel([a]) == [a]
    assert store.get(a).state is State.CANCELLED
    assert jobs.delete([a, b]) == 2
    assert store.get(b) is None and recorder.lists == 1


def test_set_number_uses_the_live_region_and_saves_the_contact(
    jobs: JobActions, store, settings: Settings, recorder: Recorder
) -> None:
    job_id, _, _ = store.enqueue(new_job("u9", number=None))
    settings.sending.default_region = "GB"  # changed in Settings after the actions were made
    assert jobs.set_number([job_id], "020 7183 8750") == [job_id]
    assert store.get(job_id).number == "+442071838750"
    assert store.get_contact("u9").number == "+442071838750"
    assert recorder.changed == [(job_id, "queued")]
    with pytest.raises(InvalidNumber):
        jobs.set_number([job_id], "12")


def test_a_test_sms_is_an_ordinary_queued_job(jobs: JobActions, store, recorder) -> None:
    job_id = jobs.send_test("0151 23456789", "hello")
    job = store.get(job_id)
    assert job.uid == TEST_UID and job.number == "+4915123456789" and job.state is State.QUEUED
    assert recorder.changed == [(job_id, "queued")] and recorder.wakes == 1


def test_a_contact_releases_the_jobs_waiting_for_its_number(
    contacts: ContactActions, store, recorder: Recorder
) -> None:
    job_id, _, _ = store.enqueue(new_job("u5", number=None))
    contact, released = contacts.add("u5", "0151 23456789", "Eve")
    assert contact.number == "+4915123456789" and released == [job_id]
    assert recorder.changed == [(job_id, "queued")] and recorder.wakes == 1


def test_an_import_releases_waiting_jobs_and_reports_bad_rows(
    contacts: ContactActions, store, recorder: Recorder, tmp_path: Path
) -> None:
    job_id, _, _ = store.enqueue(new_job("u7", number=None))
    csv = tmp_path / "contacts.csv"
    csv.write_text("uid,phone,name\nu7,0151 23456789,Ann\nu8,12,Bad\n", encoding="utf-8")
    result = contacts.import_csv(csv)
    assert result.imported == 1 and result.released_jobs == 1
    assert store.get(job_id).state is State.QUEUED
    assert len(result.errors) == 1 and recorder.lists == 1 and recorder.wakes == 1
