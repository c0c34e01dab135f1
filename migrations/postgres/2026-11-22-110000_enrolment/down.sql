DROP TABLE enrolments;
DROP TABLE training_sessions;
