-- Sessions (cohorts) of a course run by an organisation, and the enrolments in them.
CREATE TABLE training_sessions (
    id TEXT NOT NULL PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    course_slug TEXT NOT NULL REFERENCES courses (slug),
    -- Pinned at creation: enrolments follow this version whatever the course becomes.
    course_version_id TEXT NOT NULL REFERENCES course_versions (id),
    title TEXT NOT NULL,
    opens_on DATE NOT NULL,
    closes_on DATE NOT NULL,
    capacity INTEGER,
    -- Kept in step with active enrolments, so capacity is one conditional UPDATE.
    active_count INTEGER NOT NULL DEFAULT 0,
    enrolment_mode TEXT NOT NULL,
    enrolment_key_hash TEXT,
    dpc_action_ref TEXT,
    dpc_session_no TEXT,
    odpc_number TEXT,
    academic_year TEXT,
    curriculum TEXT,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX training_sessions_organisation ON training_sessions (organisation_id);
CREATE INDEX training_sessions_course ON training_sessions (course_slug);

CREATE TABLE enrolments (
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    course_version_id TEXT NOT NULL REFERENCES course_versions (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn')),
    enrolled_by TEXT,
    enrolled_at TIMESTAMP NOT NULL,
    withdrawn_by TEXT,
    withdrawn_at TIMESTAMP
);
-- One active enrolment per learner and session; withdrawn ones stay as history.
CREATE UNIQUE INDEX enrolments_one_active ON enrolments (session_id, account_id) WHERE status = 'active';
CREATE INDEX enrolments_account ON enrolments (account_id);
