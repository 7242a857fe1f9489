-- Durable timers (one scheduler on SQLite); times are Unix microseconds.
CREATE TABLE timers (
    timer_id   TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    dedupe_key TEXT    NOT NULL,
    due_at     INTEGER NOT NULL,
    command    TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    fired_at   INTEGER,
    created_at INTEGER NOT NULL,
    CONSTRAINT timers_dedupe_key UNIQUE (tenant_id, dedupe_key)
);

CREATE INDEX timers_pending_idx ON timers (due_at) WHERE fired_at IS NULL;

CREATE TABLE projections (
    name            TEXT    NOT NULL PRIMARY KEY,
    version         INTEGER NOT NULL,
    error           TEXT,
    failed_position INTEGER,
    failed_at       INTEGER,
    rebuilt_at      INTEGER,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
