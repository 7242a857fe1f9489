-- Durable timers: a command to send at a due time. The scheduler claims due rows with
-- FOR UPDATE SKIP LOCKED, so several schedulers share them; the timer id is the command id, so
-- a timer sent twice (a crash between send and commit) is applied once.
CREATE TABLE timers (
    timer_id   UUID        NOT NULL,
    tenant_id  TEXT        NOT NULL,
    dedupe_key TEXT        NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    command    JSONB       NOT NULL,
    attempts   INTEGER     NOT NULL DEFAULT 0,
    last_error TEXT,
    fired_at   TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT timers_pkey PRIMARY KEY (timer_id),
    CONSTRAINT timers_dedupe_key UNIQUE (tenant_id, dedupe_key)
);

CREATE INDEX timers_pending_idx ON timers (due_at) WHERE fired_at IS NULL;

-- The projectors known to this database: the version whose read model is built (a different
-- version in the code triggers a rebuild), and the error a projector stopped on.
CREATE TABLE projections (
    name            TEXT        NOT NULL,
    version         INTEGER     NOT NULL,
    error           TEXT,
    failed_position BIGINT,
    failed_at       TIMESTAMPTZ,
    rebuilt_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT projections_pkey PRIMARY KEY (name)
);
