-- The reports read a month of runs by the time they were queued, and the attempts that
-- did not simply succeed (abnormal ends, retries), which are few.
CREATE INDEX runs_queued_at ON runs (queued_at);
CREATE INDEX attempts_notable ON attempts (run_id) WHERE status <> 'succeeded' OR attempt > 1;
