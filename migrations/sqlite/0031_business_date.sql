-- What the dashboard's Today reads of a business date: the date's runs by status (counted,
-- and the newest of a status listed) without reading the other days' runs, and the missed
-- slots of a day without reading the slots that made a run.
CREATE INDEX runs_business_date ON runs (business_date, status);
CREATE INDEX slots_missed ON slots (due_at) WHERE outcome = 'missed';
