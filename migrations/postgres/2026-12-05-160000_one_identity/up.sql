-- One identity per professional: an RPPS or ADELI number belongs to one account.
-- Numbers already claimed twice stay on the oldest account (created first, then lowest
-- id); the others lose theirs, and each clearing is written to the audit log with the
-- number and the account that kept it, so the training body can sort it out.
INSERT INTO audit_log (id, actor_id, action, organisation_id, target_id, details, at)
SELECT gen_random_uuid()::text, NULL, 'account.duplicate_number_cleared', NULL, f.id,
       json_build_object('field', f.field, 'value', f.value, 'kept_by', f.kept_by)::text,
       now() AT TIME ZONE 'utc'
FROM (
    SELECT id, field, value,
           first_value(id) OVER (PARTITION BY field, value ORDER BY created_at, id) AS kept_by
    FROM (SELECT id, created_at, 'rpps' AS field, rpps AS value FROM accounts WHERE rpps IS NOT NULL
          UNION ALL
          SELECT id, created_at, 'adeli', adeli FROM accounts WHERE adeli IS NOT NULL) n
) f
WHERE f.id <> f.kept_by;

UPDATE accounts SET rpps = NULL
WHERE rpps IS NOT NULL AND EXISTS (
    SELECT 1 FROM accounts o WHERE o.rpps = accounts.rpps
      AND (o.created_at < accounts.created_at OR (o.created_at = accounts.created_at AND o.id < accounts.id)));
UPDATE accounts SET adeli = NULL
WHERE adeli IS NOT NULL AND EXISTS (
    SELECT 1 FROM accounts o WHERE o.adeli = accounts.adeli
      AND (o.created_at < accounts.created_at OR (o.created_at = accounts.created_at AND o.id < accounts.id)));

-- The index, not a check before the insert, is what holds under concurrent requests.
CREATE UNIQUE INDEX accounts_rpps_unique ON accounts (rpps) WHERE rpps IS NOT NULL;
CREATE UNIQUE INDEX accounts_adeli_unique ON accounts (adeli) WHERE adeli IS NOT NULL;
