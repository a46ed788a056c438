-- The fence in the database (issue 10 item 2): a leader's connections carry its epoch as the
-- session setting `fastgpu.epoch` (PgStore's `fenceEpoch`), and every statement that writes the
-- control plane's tables checks it against the leadership row. A deposed leader (paused, cut
-- off, or simply slow to notice) has its writes refused here, whatever its code believes.
-- Connections without the setting (admin tools, `admin migrate`, tests) are not fenced.
-- Statement-level, so a batch of 1,000 rows pays one check, not 1,000.
CREATE FUNCTION fastgpu_fence_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e TEXT := current_setting('fastgpu.epoch', true);
BEGIN
  IF e IS NOT NULL AND e <> '' THEN
    PERFORM fastgpu_fence(e::bigint);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER tasks_fence BEFORE INSERT OR UPDATE OR DELETE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER attempts_fence BEFORE INSERT OR UPDATE OR DELETE ON attempts
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER reservations_fence BEFORE INSERT OR UPDATE OR DELETE ON reservations
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER nodes_fence BEFORE INSERT OR UPDATE OR DELETE ON nodes
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER events_fence BEFORE INSERT OR UPDATE OR DELETE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
