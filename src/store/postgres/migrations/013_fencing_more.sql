-- The fence of 007 on the tables that came after it, and on the leader's other writes (issue 10
-- item 2): a deposed leader's statements are refused by the database here too, whatever its code
-- believes. Without it a leader paused past its lock could, once it woke, still issue a node
-- credential over the one the new leader handed out (meta, node_credentials: the agent is then
-- locked out), settle a tenant's ledger a second time, let a join token be used once too often,
-- or write a sweep's trials, a dataset or a submit's idempotency key beside the new leader's.
-- Connections without `fastgpu.epoch` (every server's own unfenced store, admin tools, tests) are
-- not fenced; leadership, replicas, counters and log chunks stay unfenced as in 007.
CREATE TRIGGER meta_fence BEFORE INSERT OR UPDATE OR DELETE ON meta
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER tokens_fence BEFORE INSERT OR UPDATE OR DELETE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER tenants_fence BEFORE INSERT OR UPDATE OR DELETE ON tenants
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER price_book_fence BEFORE INSERT OR UPDATE OR DELETE ON price_book
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER promotions_fence BEFORE INSERT OR UPDATE OR DELETE ON promotions
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER ledger_entries_fence BEFORE INSERT OR UPDATE OR DELETE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER priced_lines_fence BEFORE INSERT OR UPDATE OR DELETE ON priced_lines
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER tenant_spend_fence BEFORE INSERT OR UPDATE OR DELETE ON tenant_spend
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER promo_spent_fence BEFORE INSERT OR UPDATE OR DELETE ON promo_spent
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER idempotency_keys_fence BEFORE INSERT OR UPDATE OR DELETE ON idempotency_keys
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER datasets_fence BEFORE INSERT OR UPDATE OR DELETE ON datasets
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER dataset_chunks_fence BEFORE INSERT OR UPDATE OR DELETE ON dataset_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER dataset_names_fence BEFORE INSERT OR UPDATE OR DELETE ON dataset_names
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER dataset_quotas_fence BEFORE INSERT OR UPDATE OR DELETE ON dataset_quotas
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER sweeps_fence BEFORE INSERT OR UPDATE OR DELETE ON sweeps
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER sweep_trials_fence BEFORE INSERT OR UPDATE OR DELETE ON sweep_trials
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER task_metrics_fence BEFORE INSERT OR UPDATE OR DELETE ON task_metrics
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER join_tokens_fence BEFORE INSERT OR UPDATE OR DELETE ON join_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
CREATE TRIGGER node_credentials_fence BEFORE INSERT OR UPDATE OR DELETE ON node_credentials
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
-- The autoscaler's record of lent nodes (010_lent_nodes.sql): a deposed leader's scale decisions
-- must not land beside the new leader's.
CREATE TRIGGER lent_nodes_fence BEFORE INSERT OR UPDATE OR DELETE ON lent_nodes
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
