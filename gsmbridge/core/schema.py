"""The database schemas (migrations versioned per backend) and how a row becomes a Job."""

from __future__ import annotations

import json

from gsmbridge.core.models import Job, State
from gsmbridge.core.store_backend import Row

# Each entry moves the schema from version i to i+1; never edit a shipped one.
# SQLite (the single-PC store):
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
    # 7: claims carry a lease (the node that holds the job and until when): the same
    # columns as the shared store, so both backends answer the same questions.
    """
    ALTER TABLE jobs ADD COLUMN node TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN lease_until REAL
    """,
    # 8: replies posted into CometChat (one posting state per received SMS; a claim
    # holds it while one node posts) and the numbers that opted out (STOP).
    """
    CREATE TABLE reply_posts (
        inbox_id INTEGER PRIMARY KEY REFERENCES inbox(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        job_id INTEGER,
        receiver TEXT NOT NULL DEFAULT '',
        receiver_type TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL DEFAULT '',
        on_behalf_of TEXT NOT NULL DEFAULT '',
        app_id TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL DEFAULT '',
        muid TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        node TEXT NOT NULL DEFAULT '',
        claimed_until REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX reply_posts_due ON reply_posts(state, next_attempt_at);
    CREATE TABLE opt_outs (
        number TEXT PRIMARY KEY,
        at REAL NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    )
    """,
    # 9: the PCs (nodes) sharing the queue, with their heartbeat (one on a single PC).
    """
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL DEFAULT '',
        modems TEXT NOT NULL DEFAULT '[]',
        started_at REAL NOT NULL,
        last_seen REAL NOT NULL
    )
    """,
]

# PostgreSQL (the store several PCs share): its own versions, starting at today's
# shape.  Times are seconds since the epoch (DOUBLE PRECISION, as SQLite's REAL).
PG_MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        uid TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        number TEXT,
        raw_number TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        modem TEXT NOT NULL DEFAULT '',
        concat_ref INTEGER,
        parts_total INTEGER NOT NULL DEFAULT 0,
        parts_sent INTEGER NOT NULL DEFAULT 0,
        refs TEXT NOT NULL DEFAULT '[]',
        sent_at DOUBLE PRECISION,
        delivered_at DOUBLE PRECISION,
        app_id TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL DEFAULT '',
        merged_into BIGINT REFERENCES jobs(id),
        delivered_refs TEXT NOT NULL DEFAULT '[]',
        planned_at DOUBLE PRECISION,
        node TEXT NOT NULL DEFAULT '',
        lease_until DOUBLE PRECISION
    );
    CREATE INDEX jobs_due ON jobs(state, next_attempt_at);
    CREATE INDEX jobs_dedup ON jobs(dedup_key, created_at);
    CREATE INDEX jobs_uid ON jobs(uid, state);
    CREATE INDEX jobs_sent_modem ON jobs(modem, sent_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX jobs_sent_number ON jobs(number, sent_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX jobs_merged ON jobs(merged_into) WHERE merged_into IS NOT NULL;
    CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'sending';
    CREATE TABLE job_events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        at DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_job ON job_events(job_id);
    CREATE TABLE contacts (
        uid TEXT PRIMARY KEY,
        number TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX contacts_number ON contacts(number, updated_at);
    CREATE TABLE inbox (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        received_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        sender TEXT NOT NULL,
        sent_at DOUBLE PRECISION,
        text TEXT NOT NULL,
        concat_ref INTEGER,
        parts_total INTEGER NOT NULL DEFAULT 1,
        parts_json TEXT NOT NULL DEFAULT '{}',
        uid TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        modem TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX inbox_sender ON inbox(sender, concat_ref);
    CREATE TABLE job_parts (
        job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        modem TEXT NOT NULL,
        reference INTEGER NOT NULL,
        sent_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX job_parts_reference ON job_parts(reference, modem, sent_at)
    """,
    # 2: replies posted into CometChat, and the numbers that opted out (as SQLite's 8).
    """
    CREATE TABLE reply_posts (
        inbox_id BIGINT PRIMARY KEY REFERENCES inbox(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        job_id BIGINT,
        receiver TEXT NOT NULL DEFAULT '',
        receiver_type TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL DEFAULT '',
        on_behalf_of TEXT NOT NULL DEFAULT '',
        app_id TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL DEFAULT '',
        muid TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        node TEXT NOT NULL DEFAULT '',
        claimed_until DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX reply_posts_due ON reply_posts(state, next_attempt_at);
    CREATE TABLE opt_outs (
        number TEXT PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    )
    """,
    # 3: the PCs (nodes) sharing the queue, with their heartbeat (as SQLite's 9).
    """
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL DEFAULT '',
        modems TEXT NOT NULL DEFAULT '[]',
        started_at DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL
    )
    """,
]


# The columns a Job is made of, read by name (job_from_row).
JOB_COLUMNS = (
    "id, created_at, updated_at, state, uid, name, number, raw_number, text, attempts,"
    " next_attempt_at, planned_at, last_error, note, modem, concat_ref, parts_total, parts_sent,"
    " refs, sent_at, delivered_at, app_id, conversation, merged_into, payload"
)


def job_from_row(row: Row) -> Job:
    planned = row["planned_at"]
    return Job(
        id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state=State(row["state"]),
        uid=row["uid"],
        name=row["name"],
        number=row["number"],
        raw_number=row["raw_number"],
        text=row["text"],
        attempts=row["attempts"],
        # A job held by a rate limit reads as due when it will really go (planned_at).
        next_attempt_at=max(row["next_attempt_at"], planned or 0),
        last_error=row["last_error"],
        note=row["note"],
        modem=row["modem"],
        concat_ref=row["concat_ref"],
        parts_total=row["parts_total"],
        parts_sent=row["parts_sent"],
        references=json.loads(row["refs"]),
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        app_id=row["app_id"],
        conversation=row["conversation"],
        merged_into=row["merged_into"],
        payload_json=row["payload"],
    )
