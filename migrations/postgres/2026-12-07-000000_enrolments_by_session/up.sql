-- A session's enrolments in id order (the roster and its exports page through them): without
-- it, a page walked the whole primary key, which grew with every other session's learners
-- (export of 100,000 lines: 1.4 s with 110,000 enrolments, 2.0 s with 2,110,000).
CREATE INDEX enrolments_session ON enrolments (session_id, id);
-- A page of enrolments' certificates (reports, declarations) looked them up by a scan.
CREATE INDEX certificates_enrolment ON certificates (enrolment_id);
