-- Sample blocks kept in the table's own pages (issue 24: the sample tables at 1,000 GPUs over
-- 200 MiB). By default a row over ~2 KiB has its largest values moved to the TOAST table, and a
-- sealed raw block (10 minutes of a node's 8 GPUs) is just over that: every one cost a TOAST row,
-- its index entry and a pointer, about 12 % more than the bytes themselves (measured: 125 against
-- 110 MiB for the same blocks). Rows up to a page stay in place now; `body` is packed already
-- (sample-codec.ts), so Postgres does not try to compress it either (pglz gains nothing on it).
ALTER TABLE sample_blocks SET (toast_tuple_target = 8160);
ALTER TABLE sample_blocks ALTER COLUMN body SET STORAGE EXTERNAL;
