-- Operators' cancel requests: `unyo cancel` writes one, and the process running the run (the
-- daemon, or a foreground `unyo run`) stops it within a second.

ALTER TABLE runs ADD COLUMN cancel_requested_by TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested_at TEXT;
