-- qlab-server schema: hardware cost from synthesis (docs/cost.md); 0006 follows
-- 0005 (the results branch) in file-name order.
-- hw_figures keeps the figures of every Yosys run the server made, keyed by
-- libqhw's cache key (Yosys version, flow script, RTL hash, unit and its
-- parameters); hw_jobs is the queue of MAC configurations to synthesize in
-- the background; hw_pending lists the runs whose cost waits for a job.
CREATE TABLE hw_figures (
    key      TEXT PRIMARY KEY,
    figures  TEXT NOT NULL,               -- JSON, as hw_synth_run reports them
    seconds  REAL NOT NULL DEFAULT 0,     -- wall time of the run
    created  REAL NOT NULL
);

CREATE TABLE hw_jobs (
    mac      TEXT PRIMARY KEY,            -- canonical MAC configuration
    state    TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error    TEXT,
    created  REAL NOT NULL,
    finished REAL
);
CREATE INDEX hw_jobs_state ON hw_jobs (state, created);

CREATE TABLE hw_pending (
    run_id   INTEGER PRIMARY KEY REFERENCES runs(id)
);
