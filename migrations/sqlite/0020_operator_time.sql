-- What an operator said explicitly about a run, kept with it (and in the audit trail):
-- a business date given by hand (`--business-date`: a rehearsal of the fiscal-year rollover
-- or a month's end; the run's `business_date` and `fiscal_year` are that date's), and leave
-- to start outside the job's window (`--outside-window`: an urgent request), with its reason.

ALTER TABLE runs ADD COLUMN business_date_given INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN outside_window TEXT;
