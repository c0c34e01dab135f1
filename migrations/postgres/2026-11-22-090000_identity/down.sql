DROP TABLE audit_log;
DROP TABLE login_failures;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE memberships;
DROP TABLE organisations;
DROP TABLE accounts;
