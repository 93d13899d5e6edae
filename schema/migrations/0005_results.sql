-- qlab-server schema, version 5: who submitted each run and sweep (the
-- token's name), tags and a markdown note on both, runs recorded from local
-- training (`import_key` makes POST /runs/import idempotent), and the
-- datasets each worker has installed (NULL: the worker did not say).
ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN submitted_by TEXT;
ALTER TABLE runs ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX runs_import_key ON runs (import_key) WHERE import_key IS NOT NULL;

ALTER TABLE sweeps ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sweeps ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE sweeps ADD COLUMN submitted_by TEXT;

ALTER TABLE workers ADD COLUMN datasets TEXT;
