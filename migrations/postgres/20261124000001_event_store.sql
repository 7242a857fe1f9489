-- The event log, one row per event. Readers of the global log order by
-- (transaction_id, global_position) and only take rows whose transaction is older than every
-- transaction still running, so an event that commits late is read, never skipped.
CREATE TABLE events (
    global_position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  XID8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        UUID        NOT NULL,
    tenant_id       TEXT        NOT NULL,
    stream_type     TEXT        NOT NULL,
    stream_id       TEXT        NOT NULL,
    version         BIGINT      NOT NULL CHECK (version >= 1),
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL CHECK (schema_version >= 1),
    data            JSONB       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    metadata        JSONB       NOT NULL,
    -- clock_timestamp(), not now(): taken after the stream lock is held, so it grows with the
    -- version within a stream, which as-of reads rely on.
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_type, stream_id, version)
);

CREATE INDEX events_log_order_idx ON events (transaction_id, global_position);

-- One row per stream with its current version. Appends lock this row, so writers to one stream
-- queue up here and an expected-version check is made against the committed version.
CREATE TABLE streams (
    tenant_id   TEXT   NOT NULL,
    stream_type TEXT   NOT NULL,
    stream_id   TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT streams_pkey PRIMARY KEY (tenant_id, stream_type, stream_id)
);

-- Every command that appended (or was answered without events), written in the same
-- transaction as its events: a command id seen again returns this row and appends nothing.
CREATE TABLE command_log (
    tenant_id   TEXT        NOT NULL,
    command_id  UUID        NOT NULL,
    streams     JSONB       NOT NULL,
    reply       JSONB       NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT command_log_pkey PRIMARY KEY (tenant_id, command_id)
);

-- A consumer's place in the global log, advanced in the consumer's own transaction.
CREATE TABLE checkpoints (
    name            TEXT        NOT NULL,
    transaction_id  BIGINT      NOT NULL,
    global_position BIGINT      NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_pkey PRIMARY KEY (name)
);

-- Optional cached state per stream; never needed for correctness.
CREATE TABLE snapshots (
    tenant_id   TEXT        NOT NULL,
    stream_type TEXT        NOT NULL,
    stream_id   TEXT        NOT NULL,
    version     BIGINT      NOT NULL,
    state       JSONB       NOT NULL,
    taken_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT snapshots_pkey PRIMARY KEY (tenant_id, stream_type, stream_id)
);
