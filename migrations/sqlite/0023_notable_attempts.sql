-- An attempt is notable for the reports once it has ended other than succeeded (or is a
-- retry): a running first attempt is no longer in the index, so starting and ending an
-- ordinary step writes one index page fewer each time.
DROP INDEX attempts_notable;
CREATE INDEX attempts_notable ON attempts (run_id)
    WHERE status NOT IN ('succeeded', 'running') OR attempt > 1;
