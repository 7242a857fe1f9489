-- When a tenant's monthly invoices fall due and when an unpaid customer is suspended ("isolir"),
-- as days of the month. Days stop at 28 so that every month has them; that the suspension day
-- comes after the due day is checked by the service (SQLite cannot add a table constraint to
-- an existing table, and both backends keep one schema).

ALTER TABLE tenants ADD COLUMN billing_due_day INTEGER NOT NULL DEFAULT 10
    CHECK (billing_due_day BETWEEN 1 AND 28);
ALTER TABLE tenants ADD COLUMN billing_suspension_day INTEGER NOT NULL DEFAULT 20
    CHECK (billing_suspension_day BETWEEN 1 AND 28);
