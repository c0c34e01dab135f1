ALTER TABLE training_sessions DROP COLUMN dpc_orientation;
DROP TABLE activity_answers;
DROP TABLE organisation_resources;
