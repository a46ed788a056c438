-- Task arrays (issue 14): an array is the tasks whose doc names it; its status, results, cancel
-- and wait read them by array id. The filter in tasks.ts must use the same expression.
CREATE INDEX tasks_array ON tasks (((doc::jsonb) #>> '{array,id}'), created_at, id)
  WHERE ((doc::jsonb) #>> '{array,id}') IS NOT NULL;
