-- qlab-server schema, version 3: every scalar field of every run's spec,
-- indexed by (path, value, run), so that a spec-field filter on GET /runs
-- (train.seed=3, arith.forward.mac.acc=e6m5) walks the matching runs in id
-- order instead of json_extract over every spec. Values are stored as
-- json_extract returns them (text, integer, real; booleans as 0/1), so a
-- filter compares exactly as before. Paths are interned ("$.train.seed").
CREATE TABLE spec_paths (
    id          INTEGER PRIMARY KEY,
    path        TEXT    NOT NULL UNIQUE
);

CREATE TABLE run_fields (
    path_id     INTEGER NOT NULL,
    value               NOT NULL,   -- no type: kept as stored (no affinity)
    run_id      INTEGER NOT NULL,
    PRIMARY KEY (path_id, value, run_id)
) WITHOUT ROWID;
CREATE INDEX run_fields_run ON run_fields (run_id);

-- The runs already stored.
INSERT OR IGNORE INTO spec_paths (path)
    SELECT DISTINCT t.fullkey FROM runs r, json_tree(r.spec) t
    WHERE t.type NOT IN ('object', 'array', 'null') AND substr(t.fullkey, -1) <> ']';
INSERT OR IGNORE INTO run_fields (path_id, value, run_id)
    SELECT p.id, t.atom, r.id FROM runs r, json_tree(r.spec) t JOIN spec_paths p ON p.path = t.fullkey
    WHERE t.type NOT IN ('object', 'array', 'null') AND substr(t.fullkey, -1) <> ']';
