// How one SQLite table is copied into its Postgres twin by `fastgpu admin migrate`
// (import-sqlite.ts). Its own file so that each area (samples.ts) declares its tables' copy
// beside its SQL.
export interface TableCopy {
  table: string;
  /** Postgres columns written, in order. */
  columns: readonly string[];
  /** SQLite expressions giving those columns, in the same order. */
  select: readonly string[];
  /** Every SQLite column this copy accounts for (read, or rebuilt on the Postgres side). */
  reads: readonly string[];
  /** Columns holding text in SQLite and bytes in Postgres. */
  bytes?: readonly string[];
  /** A key order, so that a copy is deterministic and checkable. */
  order: string;
}
