// LOST attempt records in SQLite (lost-port.ts): written inside commitBatch's transaction.
import type Database from 'better-sqlite3';
import type { Task } from '../../core/types.js';
import type { LostAttemptRecord, LostAttemptWrites } from '../lost-port.js';

interface Row {
  task_id: string;
  attempt: number;
  node_id: string;
  at: number;
  hold_until: number;
  awaited: number;
  task: string;
}

export class SqliteLostAttempts {
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement<[string]>;
  private readonly listStmt: Database.Statement<[], Row>;

  constructor(db: Database.Database) {
    this.putStmt = db.prepare(`INSERT INTO lost_attempts (task_id, attempt, node_id, at, hold_until, awaited, task)
      VALUES (@task_id, @attempt, @node_id, @at, @hold_until, @awaited, @task)
      ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, node_id = excluded.node_id, at = excluded.at,
        hold_until = excluded.hold_until, awaited = excluded.awaited, task = excluded.task`);
    this.deleteStmt = db.prepare('DELETE FROM lost_attempts WHERE task_id = ?');
    this.listStmt = db.prepare('SELECT * FROM lost_attempts');
  }

  /** Inside the caller's transaction. */
  write(w: LostAttemptWrites): void {
    for (const r of w.put ?? []) {
      this.putStmt.run({ task_id: r.taskId, attempt: r.attempt, node_id: r.nodeId, at: r.at, hold_until: r.holdUntil, awaited: r.awaited ? 1 : 0, task: JSON.stringify(r.task) });
    }
    for (const id of w.delete ?? []) this.deleteStmt.run(id);
  }

  list(): LostAttemptRecord[] {
    return this.listStmt.all().map((r) => ({
      taskId: r.task_id,
      attempt: r.attempt,
      nodeId: r.node_id,
      at: r.at,
      holdUntil: r.hold_until,
      awaited: r.awaited === 1,
      task: JSON.parse(r.task) as Task,
    }));
  }
}
