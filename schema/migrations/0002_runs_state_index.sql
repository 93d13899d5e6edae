-- qlab-server schema, version 2: the run list filtered by state
-- (GET /api/v1/runs?state=queued&cursor=N) walks (state, id) in id order
-- instead of sorting every run of that state (runs_queue is ordered by
-- priority and queue time, for the lease query).
CREATE INDEX runs_state ON runs (state, id);
