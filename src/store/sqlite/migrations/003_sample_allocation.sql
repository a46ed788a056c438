-- Each utilisation sample also records what was allocated on its GPU at that moment, so the
-- dashboard can chart allocation against capacity and measured utilisation over time.
ALTER TABLE samples ADD COLUMN allocated_milli INTEGER NOT NULL DEFAULT 0;
