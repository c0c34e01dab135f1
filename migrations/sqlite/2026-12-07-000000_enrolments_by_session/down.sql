DROP INDEX enrolments_session;
DROP INDEX certificates_enrolment;
