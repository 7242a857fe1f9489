-- Uploaded files (product, category and customer images): one row per stored object. The bytes
-- live outside the database (a folder or an S3 bucket) under `storage_key`; the object is
-- written before its row and removed if the row cannot be, so a row always names an object.
-- `content_type` is what the bytes are (sniffed), never what the client declared. Times are
-- Unix milliseconds so that one SQL text serves PostgreSQL and SQLite.

CREATE TABLE files (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('product', 'category', 'customer')),
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    storage_key   TEXT NOT NULL,
    original_name TEXT,
    owner_id      TEXT,
    uploaded_by   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The staff list: newest first, by purpose and owner.
CREATE INDEX files_tenant_purpose_owner_idx ON files (tenant_id, purpose, owner_id, created_at);
