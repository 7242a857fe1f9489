-- Identity on SQLite, the same tables as on PostgreSQL: tenants, users and their login
-- identifiers, custom roles, refresh tokens, one-time codes, login failures, API keys and their
-- daily usage, and the notification outbox. Secrets live only here (hashed), never in the event
-- log. Times are Unix milliseconds so that one SQL text serves PostgreSQL and SQLite.

CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    currency   TEXT NOT NULL,
    locale     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    user_id              TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants (tenant_id),
    kind                 TEXT NOT NULL CHECK (kind IN ('staff', 'customer')),
    name                 TEXT NOT NULL,
    username             TEXT,
    email                TEXT,
    phone                TEXT,
    service_number       TEXT,
    customer_id          TEXT,
    roles                TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    active               BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at, user_id);

-- Email, username, phone and service number share one namespace per tenant: a typed login
-- identifier names at most one user.
CREATE TABLE user_identifiers (
    tenant_id  TEXT NOT NULL,
    identifier TEXT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, identifier)
);
CREATE INDEX user_identifiers_user_idx ON user_identifiers (user_id);

CREATE TABLE roles (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Refresh tokens by their SHA-256; one family per login. A token is rotated once; presenting
-- a rotated token again revokes its family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE one_time_codes (
    code_id         TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL,
    used_at         BIGINT,
    voided_at       BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX one_time_codes_user_idx ON one_time_codes (tenant_id, user_id, purpose, created_at);

CREATE TABLE login_failures (
    tenant_id       TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    ip              TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    locked_until    BIGINT,
    PRIMARY KEY (tenant_id, identifier, ip)
);

CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    key_hash     TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    allowed_ips  TEXT NOT NULL,
    daily_quota  BIGINT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_tenant_created_idx ON api_keys (tenant_id, created_at, key_id);

-- Requests per key per local day of the key's tenant.
CREATE TABLE api_key_usage (
    key_id   TEXT NOT NULL,
    day      TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);

-- Messages waiting for a channel (SMS/WhatsApp, email) to deliver them.
CREATE TABLE notification_outbox (
    message_id  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT,
    channel     TEXT NOT NULL,
    destination TEXT NOT NULL,
    template    TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT
);
CREATE INDEX notification_outbox_pending_idx ON notification_outbox (created_at) WHERE sent_at IS NULL;
