DROP TABLE quiz_accommodations;
DROP TABLE quiz_attempts;
