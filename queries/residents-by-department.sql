-- Residents of one department whose birthday falls in a given month, with the age they
-- reach on it: the list a department asks for before sending birthday-month notices (an
-- age milestone, a health check-up invitation). Used by the shipped `euc-extract` job.
--   :department  a department code (`tax`, `welfare`, ...)
--   :month       YYYY-MM; residents born in that calendar month of an earlier year
-- Values are bound by `unyo act extract`, never pasted into this text.
SELECT r.id,
       r.name,
       r.kana,
       r.birth_date,
       CAST(substr(:month, 1, 4) AS INTEGER) - CAST(substr(r.birth_date, 1, 4) AS INTEGER) AS age,
       r.address,
       r.department
  FROM residents AS r
 WHERE r.department = :department
   AND substr(r.birth_date, 6, 2) = substr(:month, 6, 2)
   AND r.birth_date < :month
 ORDER BY r.id
