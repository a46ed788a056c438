-- Several servers over one database (issue 10 item 2, first part): which one leads the control
-- loop, and the epoch that fences the others. One row; `epoch` grows by one at every change of
-- leader. The leader holds a session advisory lock on a dedicated connection (leader.ts); the
-- lock alone is not a fence (a paused leader keeps it until its session ends), so every write
-- of a leader carries its epoch and the database refuses a stale one (fastgpu_fence).
CREATE TABLE leadership (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  epoch  BIGINT NOT NULL,
  holder TEXT,
  since  BIGINT
);
INSERT INTO leadership (id, epoch) VALUES (1, 0);

-- Every server's heartbeat, for `fastgpu status`.
CREATE TABLE replicas (
  id         TEXT COLLATE "C" PRIMARY KEY,
  url        TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  seen_at    BIGINT NOT NULL
);

-- Called first in a leader's write transaction: refuses an epoch that is not the current one.
-- FOR SHARE keeps the row locked until that transaction ends, so a takeover (which updates the
-- row) waits for a write already under way, and every write after it sees the new epoch.
CREATE FUNCTION fastgpu_fence(e BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE current BIGINT;
BEGIN
  SELECT epoch INTO current FROM leadership WHERE id = 1 FOR SHARE;
  IF e IS DISTINCT FROM current THEN
    RAISE EXCEPTION 'fenced: epoch % is not the leader''s (now %)', e, current USING ERRCODE = 'FGF01';
  END IF;
END $$;
