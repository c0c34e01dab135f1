-- The numbers cleared as duplicates are not restored (the audit log keeps them).
DROP INDEX accounts_adeli_unique;
DROP INDEX accounts_rpps_unique;
