DROP INDEX enrolments_session;
