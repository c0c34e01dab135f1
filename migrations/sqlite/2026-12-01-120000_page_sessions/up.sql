-- Page sessions (8-hour cookies) carry this number; signing out or resetting the password
-- increments it, which ends every page session of the account at once.
ALTER TABLE accounts ADD COLUMN page_session_epoch INTEGER NOT NULL DEFAULT 0;
