-- Bulwark schema, version 1. The database is the system of record: a task exists once its row commits.

CREATE TABLE api_keys (
    id            text        PRIMARY KEY,
    tenant        text        NOT NULL,
    name          text        NOT NULL,
    secret_sha256 bytea       NOT NULL,
    admin         boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE TABLE tasks (
    id                  uuid        PRIMARY KEY,          -- UUIDv7: time-ordered
    tenant              text        NOT NULL,
    type                text        NOT NULL,
    state               text        NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
    priority            integer     NOT NULL DEFAULT 0,   -- higher runs first
    run_at              timestamptz NOT NULL DEFAULT now(),
    attempts            integer     NOT NULL DEFAULT 0,   -- claims so far, the current one included
    max_attempts        integer     NOT NULL,
    timeout_seconds     integer     NOT NULL,
    input_json          text,                             -- inline JSON input, or
    input_blob          text,                             -- blob key of a large or binary input
    input_size          bigint,
    input_sha256        text,
    input_content_type  text,
    result_json         text,
    result_blob         text,
    result_size         bigint,
    result_sha256       text,
    result_content_type text,
    error               text,
    lease_token         uuid,                             -- set while running; guards every write
    lease_expires_at    timestamptz,                      -- database clock, never a JVM's
    worker              text,                             -- which worker holds the lease
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
) WITH (fillfactor = 85);

-- What the claim query walks: ready tasks in priority, then run_at, order.
CREATE INDEX tasks_ready_idx ON tasks (priority DESC, run_at, id) WHERE state = 'queued';
-- What the lease rescuer walks.
CREATE INDEX tasks_lease_idx ON tasks (lease_expires_at) WHERE state = 'running';
-- A tenant's tasks, paged by id.
CREATE INDEX tasks_tenant_idx ON tasks (tenant, id);

CREATE TABLE idempotency_keys (
    tenant         text        NOT NULL,
    key            text        NOT NULL,
    request_sha256 bytea       NOT NULL,
    task_id        uuid        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Usage statistics per tenant and minute, flushed in batches by API servers and workers.
CREATE TABLE usage_minutes (
    tenant          text        NOT NULL,
    minute          timestamptz NOT NULL,
    requests        bigint      NOT NULL DEFAULT 0,
    tasks_submitted bigint      NOT NULL DEFAULT 0,
    tasks_succeeded bigint      NOT NULL DEFAULT 0,
    tasks_dead      bigint      NOT NULL DEFAULT 0,
    bytes_in        bigint      NOT NULL DEFAULT 0,
    bytes_out       bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, minute)
);
