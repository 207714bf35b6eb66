-- A frozen report can be superseded: a new frozen report of the same kind, period, language
-- and form becomes the current one, and the new row records which one it supersedes and why
-- (`frozen_at` and `frozen_by` say when and who). The old row stays as it was: `unyo report
-- verify` of its file says that it was superseded, by which report, when and why.
--
-- 0014 allowed one row per report (UNIQUE (kind, period, lang, format)); SQLite cannot drop
-- a table constraint, so the table is rebuilt with every row and id kept. It stays
-- append-only: the same triggers refuse UPDATE and DELETE. The rows of one report form a
-- single chain: one first row (`supersedes` NULL, a partial unique index), each row
-- superseded at most once (UNIQUE (supersedes)), always by a row of the same report (a
-- trigger). The current one is the row no other supersedes.

CREATE TABLE frozen_reports_v15 (
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
    supersedes INTEGER UNIQUE,              -- the frozen report this one replaces
    reason     TEXT,                        -- why (required when superseding)
    CHECK ((supersedes IS NULL) = (reason IS NULL)),
    CHECK (reason IS NULL OR length(trim(reason)) > 0)
);

INSERT INTO frozen_reports_v15 (id, kind, period, lang, format, data_from, data_to, sha256,
                                body, frozen_at, frozen_by)
    SELECT id, kind, period, lang, format, data_from, data_to, sha256, body, frozen_at,
           frozen_by
    FROM frozen_reports ORDER BY id;

-- Dropping the table drops its triggers with it; no trigger fires.
DROP TABLE frozen_reports;
ALTER TABLE frozen_reports_v15 RENAME TO frozen_reports;

CREATE INDEX frozen_reports_sha256 ON frozen_reports (sha256);
CREATE UNIQUE INDEX frozen_reports_first ON frozen_reports (kind, period, lang, format)
    WHERE supersedes IS NULL;

CREATE TRIGGER frozen_reports_no_update BEFORE UPDATE ON frozen_reports
BEGIN SELECT RAISE(ABORT, 'frozen reports never change'); END;
CREATE TRIGGER frozen_reports_no_delete BEFORE DELETE ON frozen_reports
BEGIN SELECT RAISE(ABORT, 'frozen reports never change'); END;
CREATE TRIGGER frozen_reports_same_report BEFORE INSERT ON frozen_reports
WHEN NEW.supersedes IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM frozen_reports o WHERE o.id = NEW.supersedes AND o.kind = NEW.kind
    AND o.period = NEW.period AND o.lang = NEW.lang AND o.format = NEW.format)
BEGIN SELECT RAISE(ABORT, 'a frozen report supersedes one of the same report'); END;
