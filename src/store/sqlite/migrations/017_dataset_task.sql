-- Task outputs (issue 16): a dataset version made by a task's `outputs:` names the task, so
-- `fastgpu data show` says where a version came from and a task's view lists what it made.
ALTER TABLE datasets ADD COLUMN task_id TEXT;
CREATE INDEX datasets_by_task ON datasets (task_id) WHERE task_id IS NOT NULL;
