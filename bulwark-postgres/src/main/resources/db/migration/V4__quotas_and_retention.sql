-- Per-tenant quotas and retention. The row of tenant '*' holds the defaults; a tenant's own row
-- overrides what it sets (NULL: the default). Read by the API servers (quotas, GET /v1/usage) and the
-- workers' retention sweep; written by admins (PUT /v1/admin/tenants/{tenant}).
CREATE TABLE tenant_settings (
    tenant            text        PRIMARY KEY,
    max_queued        bigint      CHECK (max_queued >= 0),        -- tasks queued at once
    max_stored_bytes  bigint      CHECK (max_stored_bytes >= 0),  -- inputs and results kept
    retention_seconds bigint      CHECK (retention_seconds >= 86400), -- finished tasks kept; at least
                                                                  -- the 24 h an idempotency key lives
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenant_settings (tenant, max_queued, max_stored_bytes, retention_seconds)
    VALUES ('*', 1000000, 107374182400, 604800); -- 1 M tasks, 100 GiB, 7 days

-- Bytes a tenant keeps stored (task inputs and results, inline or in blob storage), as deltas: added
-- when a task is submitted or its result written, taken away when the retention sweep deletes it.
ALTER TABLE usage_minutes ADD COLUMN bytes_stored bigint NOT NULL DEFAULT 0;
