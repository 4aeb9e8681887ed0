-- Claims are fair across tenants (TaskQueue.claim): the ready tenants are found by a skip scan of this
-- index, one probe per tenant, and each tenant's share is taken in its own priority order from it.
-- It replaces the global ready index: no claim orders tasks across tenants any more, and one partial
-- index per queued row, not two, keeps submissions as cheap as before.
CREATE INDEX tasks_tenant_ready_idx ON tasks (tenant, priority DESC, run_at, id) WHERE state = 'queued';
DROP INDEX tasks_ready_idx;
