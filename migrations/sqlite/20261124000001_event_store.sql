-- The event log. SQLite has one writer at a time, so global_position order is commit order.
-- Times are Unix microseconds (UTC); ids are hyphenated UUID text.
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL,
    tenant_id       TEXT    NOT NULL,
    stream_type     TEXT    NOT NULL,
    stream_id       TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 1),
    data            TEXT    NOT NULL CHECK (json_type(data) = 'object'),
    metadata        TEXT    NOT NULL,
    recorded_at     INTEGER NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_type, stream_id, version)
);

CREATE TABLE streams (
    tenant_id   TEXT    NOT NULL,
    stream_type TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (tenant_id, stream_type, stream_id)
) WITHOUT ROWID;

CREATE TABLE command_log (
    tenant_id   TEXT    NOT NULL,
    command_id  TEXT    NOT NULL,
    streams     TEXT    NOT NULL,
    reply       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, command_id)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    name            TEXT    NOT NULL PRIMARY KEY,
    transaction_id  INTEGER NOT NULL,
    global_position INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE snapshots (
    tenant_id   TEXT    NOT NULL,
    stream_type TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    taken_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, stream_type, stream_id)
) WITHOUT ROWID;
