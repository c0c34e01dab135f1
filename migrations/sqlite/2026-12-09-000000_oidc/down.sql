ALTER TABLE training_sessions DROP COLUMN requires_verified_rpps;
DROP TABLE oidc_pending_links;
DROP TABLE oidc_identities;
DROP TABLE oidc_logins;
