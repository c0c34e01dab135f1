DROP TABLE lti_registration_invites;
ALTER TABLE training_sessions DROP COLUMN lms_placed;
DROP TABLE lti_grades;
DROP TABLE lti_line_items;
DROP TABLE lti_contexts;
DROP TABLE lti_users;
DROP TABLE lti_logins;
DROP TABLE lti_deployments;
DROP TABLE lti_platforms;
