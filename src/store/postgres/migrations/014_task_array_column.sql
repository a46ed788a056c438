-- Task arrays (issue 14), faster: the array id as a column of its own. The index on
-- (doc::jsonb) #>> '{array,id}' parsed every inserted task's JSON twice (its WHERE and its key),
-- half the database's CPU of storing a 10,000-element array. The column is written with the row
-- (it never changes) and the index is a plain one; the filter in tasks.ts reads the column.
ALTER TABLE tasks ADD COLUMN array_id TEXT;
UPDATE tasks SET array_id = (doc::jsonb) #>> '{array,id}' WHERE ((doc::jsonb) #>> '{array,id}') IS NOT NULL;
DROP INDEX tasks_array;
CREATE INDEX tasks_array ON tasks (array_id, created_at, id) WHERE array_id IS NOT NULL;
