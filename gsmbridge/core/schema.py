"""The database schema (versioned migrations) and how a row becomes a Job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gsmbridge.core.models import Job, State

# Each entry moves the schema from version i to i+1; never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        state TEXT NOT NULL,
        uid TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        number TEXT,
        raw_number TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        modem TEXT NOT NULL DEFAULT '',
        concat_ref INTEGER,
        parts_total INTEGER NOT NULL DEFAULT 0,
        parts_sent INTEGER NOT NULL DEFAULT 0,
        refs TEXT NOT NULL DEFAULT '[]',
        sent_at REAL,
        delivered_at REAL,
        app_id TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL DEFAULT '',
        merged_into INTEGER REFERENCES jobs(id)
    );
    CREATE INDEX jobs_due ON jobs(state, next_attempt_at);
    CREATE INDEX jobs_dedup ON jobs(dedup_key, created_at);
    CREATE INDEX jobs_uid ON jobs(uid, state);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_job ON job_events(job_id);
    CREATE TABLE contacts (
        uid TEXT PRIMARY KEY,
        number TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL
    );
    """,
    # 2: per-part delivery reports, and indexes for the rate limits.
    """
    ALTER TABLE jobs ADD COLUMN delivered_refs TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX jobs_sent_modem ON jobs(modem, sent_at);
    CREATE INDEX jobs_sent_number ON jobs(number, sent_at);
    """,
    # 3: coalesced jobs point at the job that carries them.
    """
    CREATE INDEX jobs_merged ON jobs(merged_into);
    """,
    # 4: indexes on columns a new job leaves NULL only hold the rows that have a
    # value: a webhook's insert updates three indexes fewer.
    """
    DROP INDEX jobs_sent_modem;
    CREATE INDEX jobs_sent_modem ON jobs(modem, sent_at) WHERE sent_at IS NOT NULL;
    DROP INDEX jobs_sent_number;
    CREATE INDEX jobs_sent_number ON jobs(number, sent_at) WHERE sent_at IS NOT NULL;
    DROP INDEX jobs_merged;
    CREATE INDEX jobs_merged ON jobs(merged_into) WHERE merged_into IS NOT NULL;
    """,
    # 5: SMS received by the modems (replies), one row per message; the parts of a
    # long message are collected in parts_json until all have arrived.
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sender TEXT NOT NULL,
        sent_at REAL,
        text TEXT NOT NULL,
        concat_ref INTEGER,
        parts_total INTEGER NOT NULL DEFAULT 1,
        parts_json TEXT NOT NULL DEFAULT '{}',
        uid TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        modem TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX inbox_sender ON inbox(sender, concat_ref);
    CREATE INDEX contacts_number ON contacts(number, updated_at);
    """,
    # 6: one row per sent part, with the modem and time it went out, so a delivery
    # report finds its part whatever the job's state (a long message still sending,
    # a failover between parts); a row counts only while seq <= the job's parts_sent
    # (a resend from part 1 replaces the rows).  planned_at: when a job held by a
    # rate limit will go.  Parts of jobs that may still get reports are carried over.
    """
    CREATE TABLE job_parts (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        modem TEXT NOT NULL,
        reference INTEGER NOT NULL,
        sent_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX job_parts_reference ON job_parts(reference, modem, sent_at);
    ALTER TABLE jobs ADD COLUMN planned_at REAL;
    INSERT INTO job_parts(job_id, seq, modem, reference, sent_at, status)
    SELECT j.id, j.parts_sent - json_array_length(j.refs) + r.key + 1, j.modem, r.value,
        COALESCE(j.sent_at, j.updated_at),
        CASE WHEN EXISTS (SELECT 1 FROM json_each(j.delivered_refs) d WHERE d.value = r.value)
        THEN 'delivered' ELSE '' END
    FROM jobs j, json_each(j.refs) r
    WHERE j.state IN ('sending', 'sent', 'queued') AND j.parts_sent >= json_array_length(j.refs)
    """,
]


# A job held by a rate limit reads as due when it will really go (planned_at).
JOB_COLUMNS = (
    "id, created_at, updated_at, state, uid, name, number, raw_number, text, attempts,"
    " MAX(next_attempt_at, COALESCE(planned_at, 0)), last_error, note, modem, concat_ref,"
    " parts_total, parts_sent, refs,"
    " sent_at, delivered_at, app_id, conversation, merged_into, payload"
)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        created_at=row[1],
        updated_at=row[2],
        state=State(row[3]),
        uid=row[4],
        name=row[5],
        number=row[6],
        raw_number=row[7],
        text=row[8],
        attempts=row[9],
        next_attempt_at=row[10],
        last_error=row[11],
        note=row[12],
        modem=row[13],
        concat_ref=row[14],
        parts_total=row[15],
        parts_sent=row[16],
        references=json.loads(row[17]),
        sent_at=row[18],
        delivered_at=row[19],
        app_id=row[20],
        conversation=row[21],
        merged_into=row[22],
        payload_json=row[23],
    )
