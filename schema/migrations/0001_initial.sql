-- qlab-server schema, version 1. Migrations are append-only: never edit a
-- released file, add the next one. Applied in order at start-up, each in
-- one transaction, tracked with PRAGMA user_version.

CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    doc         TEXT    NOT NULL,           -- the submitted sweep document
    early_stop  TEXT,                       -- its early_stop object, or NULL
    created     REAL    NOT NULL
);

CREATE TABLE workers (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    token       TEXT    NOT NULL UNIQUE,    -- the worker's bearer token
    devices     TEXT    NOT NULL,           -- JSON array of devices
    tags        TEXT    NOT NULL DEFAULT '[]',
    version     TEXT    NOT NULL DEFAULT '',
    registered  REAL    NOT NULL,
    last_seen   REAL    NOT NULL
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    sweep_id         INTEGER REFERENCES sweeps(id),
    name             TEXT    NOT NULL,
    spec             TEXT    NOT NULL,      -- the fully expanded, canonical spec
    device_kind      TEXT    NOT NULL,      -- cpu | gpu | fpga | any
    device_board     TEXT,
    state            TEXT    NOT NULL CHECK (state IN
                       ('queued', 'leased', 'running', 'succeeded', 'failed', 'canceled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    worker_id        INTEGER REFERENCES workers(id),
    device           TEXT,                  -- the worker's device id while leased
    lease_token      TEXT,
    lease_deadline   REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    stop_requested   INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    summary          TEXT    NOT NULL DEFAULT '{}',  -- last value of each metric
    cost             TEXT,                  -- hardware cost fields (cost model)
    created          REAL    NOT NULL,
    queued_at        REAL    NOT NULL,
    started          REAL,
    finished         REAL
);
CREATE INDEX runs_queue ON runs (state, priority DESC, queued_at, id);
CREATE INDEX runs_sweep ON runs (sweep_id, id);
CREATE INDEX runs_lease ON runs (lease_deadline) WHERE lease_deadline IS NOT NULL;

-- One row per lease a run has had: the run's timeline in the dashboard.
CREATE TABLE leases (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    worker_id   INTEGER NOT NULL REFERENCES workers(id),
    device      TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    started     REAL    NOT NULL,
    ended       REAL,
    outcome     TEXT                        -- succeeded, failed, canceled, expired, released
);
CREATE INDEX leases_run ON leases (run_id, id);

CREATE TABLE metric_names (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE
);

-- Compact points, unique per (run, name, step): a replayed batch is ignored.
CREATE TABLE metrics (
    run_id      INTEGER NOT NULL,
    name_id     INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    value       REAL,                       -- NULL for a non-finite value
    t           REAL    NOT NULL,
    PRIMARY KEY (run_id, name_id, step)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    run_id      INTEGER PRIMARY KEY REFERENCES runs(id),
    path        TEXT    NOT NULL,           -- relative to the data directory
    size        INTEGER NOT NULL,
    crc32       TEXT    NOT NULL,
    step        INTEGER NOT NULL,
    t           REAL    NOT NULL
);

-- Every state change, in order; the SSE streams replay it by id.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    t           REAL    NOT NULL,
    kind        TEXT    NOT NULL,           -- run, sweep, metrics, worker
    run_id      INTEGER,
    sweep_id    INTEGER,
    data        TEXT    NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);
