-- Per-tenant counters that hand out gap-free numbers (customer codes, later order and invoice
-- numbers): incremented inside the transaction that appends the numbered aggregate's events, so a
-- rolled-back command gives its number back.
CREATE TABLE counters (
    tenant_id TEXT   NOT NULL,
    name      TEXT   NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Values no two aggregates of a tenant may hold at once (a customer's email, a product's sku),
-- claimed and released in the transaction that appends the events which take or drop them.
CREATE TABLE unique_keys (
    tenant_id TEXT NOT NULL,
    scope     TEXT NOT NULL,
    value     TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, value)
);

CREATE INDEX unique_keys_holder_idx ON unique_keys (tenant_id, scope, stream_id);

-- How generated customer codes look: each `#` one digit of the tenant's customer counter.
ALTER TABLE tenants ADD COLUMN customer_code_pattern TEXT NOT NULL DEFAULT 'C-####';

-- A customer's 6-digit redemption PIN, argon2id-hashed; kept out of the event log like every
-- other secret. Guesses are counted so a PIN cannot be walked.
CREATE TABLE customer_pins (
    tenant_id    TEXT   NOT NULL,
    customer_id  TEXT   NOT NULL,
    pin_hash     TEXT   NOT NULL,
    failed       BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
