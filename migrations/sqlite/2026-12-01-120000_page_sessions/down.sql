ALTER TABLE accounts DROP COLUMN page_session_epoch;
