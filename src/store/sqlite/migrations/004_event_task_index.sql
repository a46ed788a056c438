-- One task's history (GET /v1/tasks/:id/events) reads its events in seq order. Partial: node
-- and vGPU events carry no task id and need no entry; `task_id = ?` implies NOT NULL, so the
-- planner uses the index for that lookup.
CREATE INDEX events_task ON events (task_id, seq) WHERE task_id IS NOT NULL;
