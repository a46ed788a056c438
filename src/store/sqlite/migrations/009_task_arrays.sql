-- Task arrays (issue 14): an array is the tasks whose doc names it; its status, results, cancel
-- and wait read them by array id. The filter's text in store.ts must match this expression.
CREATE INDEX tasks_array ON tasks (json_extract(doc, '$.array.id'), created_at, id)
  WHERE json_extract(doc, '$.array.id') IS NOT NULL;
