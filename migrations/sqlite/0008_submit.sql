-- Ad-hoc submissions: the requester's words travel with the run (for the operators and the
-- monthly report).

ALTER TABLE runs ADD COLUMN comment TEXT;
