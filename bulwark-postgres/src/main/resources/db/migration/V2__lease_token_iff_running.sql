-- A lease token is set exactly while a task runs. Every guarded write relies on this (see TaskQueue).
ALTER TABLE tasks ADD CONSTRAINT tasks_lease_token_iff_running
    CHECK ((state = 'running') = (lease_token IS NOT NULL));
