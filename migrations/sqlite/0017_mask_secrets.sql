-- Secret values are stored masked (`***`) from this version on. This masks what earlier
-- versions stored in clear: the values of parameters named like a secret (a name holding
-- password, passwd, secret, token, credential, apikey, api_key, private_key or access_key)
-- in `runs.params` and in the audit trail's arguments, and the values of parameter changes of
-- a key named so (with the audit entries that quoted them). The audit trail is append-only
-- for unyo: its two triggers are dropped for this one masking and made again as they were.

UPDATE runs SET params = json((
    SELECT json_group_object(key,
        CASE WHEN value <> '' AND (
                lower(key) LIKE '%password%' OR lower(key) LIKE '%passwd%'
                OR lower(key) LIKE '%secret%' OR lower(key) LIKE '%token%'
                OR lower(key) LIKE '%credential%' OR lower(key) LIKE '%apikey%'
                OR lower(key) LIKE '%api\_key%' ESCAPE '\' OR lower(key) LIKE '%private\_key%' ESCAPE '\'
                OR lower(key) LIKE '%access\_key%' ESCAPE '\')
             THEN '***' ELSE value END)
    FROM json_each(runs.params)
))
WHERE json_valid(params) AND json_type(params) = 'object';

DROP TRIGGER audit_no_update;
DROP TRIGGER audit_no_delete;

-- `{"params": {"db_password": "..."}}` (run, run.detach, extract).
UPDATE audit SET args = json_set(args, '$.params', json((
    SELECT json_group_object(key,
        CASE WHEN value <> '' AND (
                lower(key) LIKE '%password%' OR lower(key) LIKE '%passwd%'
                OR lower(key) LIKE '%secret%' OR lower(key) LIKE '%token%'
                OR lower(key) LIKE '%credential%' OR lower(key) LIKE '%apikey%'
                OR lower(key) LIKE '%api\_key%' ESCAPE '\' OR lower(key) LIKE '%private\_key%' ESCAPE '\'
                OR lower(key) LIKE '%access\_key%' ESCAPE '\')
             THEN '***' ELSE value END)
    FROM json_each(audit.args, '$.params')
)))
WHERE json_valid(args) AND json_type(args, '$.params') = 'object';

-- `{"params": ["db_password=...", ...]}` (submit).
UPDATE audit SET args = json_set(args, '$.params', json((
    SELECT json_group_array(
        CASE WHEN instr(value, '=') > 1 AND substr(value, instr(value, '=') + 1) <> '' AND (
                lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%password%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%passwd%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%secret%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%token%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%credential%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%apikey%'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%api\_key%' ESCAPE '\'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%private\_key%' ESCAPE '\'
                OR lower(substr(value, 1, instr(value, '=') - 1)) LIKE '%access\_key%' ESCAPE '\')
             THEN substr(value, 1, instr(value, '=')) || '***' ELSE value END)
    FROM json_each(audit.args, '$.params')
)))
WHERE json_valid(args) AND json_type(args, '$.params') = 'array';

-- Parameter changes of a key named like a secret, and their audit entries.
UPDATE param_changes
SET before = CASE WHEN before IS NULL THEN NULL ELSE '"***"' END,
    after = CASE WHEN after IS NULL THEN NULL ELSE '"***"' END
WHERE lower(key) LIKE '%password%' OR lower(key) LIKE '%passwd%'
   OR lower(key) LIKE '%secret%' OR lower(key) LIKE '%token%'
   OR lower(key) LIKE '%credential%' OR lower(key) LIKE '%apikey%'
   OR lower(key) LIKE '%api\_key%' ESCAPE '\' OR lower(key) LIKE '%private\_key%' ESCAPE '\'
   OR lower(key) LIKE '%access\_key%' ESCAPE '\';

UPDATE audit
SET args = json_set(json_set(args, '$.value', '***'), '$.expect',
        CASE WHEN json_extract(args, '$.expect') IS NULL THEN json('null') ELSE '***' END),
    detail = CASE WHEN outcome = 'done' AND detail LIKE 'change %:%'
                  THEN substr(detail, 1, instr(detail, ':')) || ' "***" -> "***"'
                  ELSE 'refused (the message, which may have named the value, is masked)' END
WHERE action = 'param.set' AND json_valid(args)
  AND (lower(json_extract(args, '$.key')) LIKE '%password%'
   OR lower(json_extract(args, '$.key')) LIKE '%passwd%'
   OR lower(json_extract(args, '$.key')) LIKE '%secret%'
   OR lower(json_extract(args, '$.key')) LIKE '%token%'
   OR lower(json_extract(args, '$.key')) LIKE '%credential%'
   OR lower(json_extract(args, '$.key')) LIKE '%apikey%'
   OR lower(json_extract(args, '$.key')) LIKE '%api\_key%' ESCAPE '\'
   OR lower(json_extract(args, '$.key')) LIKE '%private\_key%' ESCAPE '\'
   OR lower(json_extract(args, '$.key')) LIKE '%access\_key%' ESCAPE '\');

UPDATE audit SET detail = 'rolled back a change of a key named like a secret (values masked)'
WHERE action = 'param.rollback' AND outcome = 'done'
  AND (lower(detail) LIKE '%password%' OR lower(detail) LIKE '%passwd%'
   OR lower(detail) LIKE '%secret%' OR lower(detail) LIKE '%token%'
   OR lower(detail) LIKE '%credential%' OR lower(detail) LIKE '%apikey%'
   OR lower(detail) LIKE '%api\_key%' ESCAPE '\' OR lower(detail) LIKE '%private\_key%' ESCAPE '\'
   OR lower(detail) LIKE '%access\_key%' ESCAPE '\');

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
