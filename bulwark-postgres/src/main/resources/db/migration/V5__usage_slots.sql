-- Usage rows striped by writer. Every completion transaction adds its tenants' outcomes to their
-- (tenant, minute) rows and holds those row locks until it commits, synchronous standby round trip
-- included, so all workers' completions of one tenant queued behind each other on one row (the
-- upsert was the costliest statement under load, 1.7 ms mean, most of it waiting). Each writing
-- process now adds to a slot of its own (one of 16, chosen at its start); readers sum the slots.
-- The day rows the roll-up writes are slot 0.
ALTER TABLE usage_minutes ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes DROP CONSTRAINT usage_minutes_pkey;
ALTER TABLE usage_minutes ADD PRIMARY KEY (tenant, minute, slot);
