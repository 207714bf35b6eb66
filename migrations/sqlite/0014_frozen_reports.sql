-- Reports frozen for signing: the exact bytes handed to the client, with the data range they
-- were computed from and their SHA-256, so that a file can later be shown unaltered
-- (`unyo report verify FILE`). One per report, period, language and form; unyo never updates
-- or deletes a row.

CREATE TABLE frozen_reports (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,            -- monthly | yearly
    period     TEXT    NOT NULL,            -- 2026-10 | FY2026
    lang       TEXT    NOT NULL,            -- ja | en
    format     TEXT    NOT NULL,            -- md | json | ...
    data_from  TEXT    NOT NULL,            -- the records read: [data_from, data_to)
    data_to    TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    frozen_at  TEXT    NOT NULL,
    frozen_by  TEXT    NOT NULL,
    UNIQUE (kind, period, lang, format)
);
CREATE INDEX frozen_reports_sha256 ON frozen_reports (sha256);

CREATE TRIGGER frozen_reports_no_update BEFORE UPDATE ON frozen_reports
BEGIN SELECT RAISE(ABORT, 'frozen reports never change'); END;
CREATE TRIGGER frozen_reports_no_delete BEFORE DELETE ON frozen_reports
BEGIN SELECT RAISE(ABORT, 'frozen reports never change'); END;
