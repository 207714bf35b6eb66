-- The reports read a month of runs by the time they were queued.
CREATE INDEX runs_queued_at ON runs (queued_at);
