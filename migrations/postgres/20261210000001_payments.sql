-- Payment providers. `payment_sessions` names what each session the providers know (Midtrans
-- order_id, Xendit external_id) pays for, so that a notification finds its tenant, its order or
-- invoice and the amount that was asked (session ids are unique per provider across tenants:
-- tenants may share one merchant account and its one notification URL); the reconciler reads it for sessions still pending past their
-- expiry. `payment_notifications` is the inbox: every notification is stored here, raw, before
-- anything is done with it; the unique dedupe key makes a provider's retry a duplicate. A
-- notification that fails verification gets a dedupe key of its own, so a forged one can never
-- take the key of the real one. Times are Unix milliseconds so that one SQL text serves
-- PostgreSQL and SQLite.

CREATE TABLE payment_sessions (
    tenant_id    TEXT NOT NULL,
    provider     TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    target_type  TEXT NOT NULL CHECK (target_type IN ('order', 'invoice')),
    target_id    TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL
                 CHECK (status IN ('opening', 'pending', 'paid', 'expired', 'failed', 'refused')),
    expires_at   BIGINT,
    checked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, session_id),
    UNIQUE (tenant_id, target_type, target_id, provider, attempt)
);
-- The reconciler's sweep: pending sessions by expiry.
CREATE INDEX payment_sessions_status_expiry_idx ON payment_sessions (status, expires_at);

CREATE TABLE payment_notifications (
    id               TEXT NOT NULL PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    provider         TEXT NOT NULL,
    dedupe_key       TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('notification', 'reconciliation')),
    verification     TEXT NOT NULL
                     CHECK (verification IN ('valid', 'bad_signature', 'malformed', 'not_configured')),
    headers          TEXT NOT NULL,
    body             TEXT NOT NULL,
    parsed           TEXT,
    session_id       TEXT,
    transaction_id   TEXT,
    transaction_status TEXT,
    amount           BIGINT,
    target_type      TEXT,
    target_id        TEXT,
    status           TEXT NOT NULL
                     CHECK (status IN ('received', 'applied', 'ignored', 'held', 'flagged',
                                       'rejected', 'not_found')),
    flag             TEXT,
    outcome          TEXT,
    command_id       TEXT,
    deliveries       BIGINT NOT NULL DEFAULT 1,
    received_at      BIGINT NOT NULL,
    last_delivery_at BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    reviewed_by      TEXT,
    reconciled_at    BIGINT,
    UNIQUE (tenant_id, provider, dedupe_key)
);
-- The staff list (newest first, by status), and the reconciler's stale and flagged sweeps.
CREATE INDEX payment_notifications_tenant_idx
    ON payment_notifications (tenant_id, status, received_at);
CREATE INDEX payment_notifications_status_idx
    ON payment_notifications (status, updated_at);
