-- A submit that carries Idempotency-Keys is one statement (store.ts submitBatch): the keys' insert
-- answers the keys it took, and when a live record holds one of them the statement must fail as a
-- whole, its tasks and events with it. SQL alone cannot raise an error; this function does, with
-- its own SQLSTATE, which the store answers as CONFLICT naming the key.
CREATE OR REPLACE FUNCTION fgpu_idempotency_conflict(held text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'idempotency key % already exists', held USING ERRCODE = 'FG409';
END
$$;
