-- Claims are fair across tenants (TaskQueue.claim): the ready tenants are found by a skip scan of this
-- index, one probe per tenant, and each tenant's share is taken in its own priority order from it.
CREATE INDEX tasks_tenant_ready_idx ON tasks (tenant, priority DESC, run_at, id) WHERE state = 'queued';
