-- A tenant's default time limit (issue 22): the time limit of its tasks that set none, over the
-- pool's --default-time-limit. NULL: the pool's default.
ALTER TABLE tenants ADD COLUMN default_time_limit_ms BIGINT;
