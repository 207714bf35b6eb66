-- What the dashboard's Today reads of a business date (see the SQLite migration
-- 0032_business_date.sql): the date's runs counted by status and node, the newest of them in
-- id order, and the missed slots of a day.
CREATE INDEX runs_business_date ON runs (business_date, status, owner, host);
CREATE INDEX runs_business_date_id ON runs (business_date, id);
CREATE INDEX slots_missed ON slots (due_at) WHERE outcome = 'missed';
