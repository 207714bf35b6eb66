-- What the dashboard's Today reads of a business date, without reading the other days' runs:
-- the date's runs counted by status and node from the index alone (`runs_business_date`:
-- its owner and host are the node), the newest of them in id order (`runs_business_date_id`),
-- and the missed slots of a day without reading the slots that made a run.
CREATE INDEX runs_business_date ON runs (business_date, status, owner, host);
CREATE INDEX runs_business_date_id ON runs (business_date, id);
CREATE INDEX slots_missed ON slots (due_at) WHERE outcome = 'missed';
