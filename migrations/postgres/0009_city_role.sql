-- The role `city` (see the SQLite migration 0031_city_role.sql).
ALTER TABLE web_users DROP CONSTRAINT web_users_role_check;
ALTER TABLE web_users ADD CONSTRAINT web_users_role_check
    CHECK (role IN ('city', 'viewer', 'operator', 'approver'));
