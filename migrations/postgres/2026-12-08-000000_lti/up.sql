-- LTI 1.3: the learning platforms (Moodle…) an organisation registered, the logins in
-- flight, the LMS users and courses linked to ours, and the grades owed to the platforms.
CREATE TABLE lti_platforms (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    auth_url TEXT NOT NULL,
    token_url TEXT NOT NULL,
    jwks_url TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (issuer, client_id)
);
CREATE INDEX lti_platforms_organisation ON lti_platforms (organisation_id);

CREATE TABLE lti_deployments (
    platform_id TEXT NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL,
    PRIMARY KEY (platform_id, deployment_id)
);

-- One row per login initiated and not yet launched: state and nonce are used once (the
-- launch deletes the row) and expire.
CREATE TABLE lti_logins (
    state TEXT PRIMARY KEY NOT NULL,
    nonce TEXT NOT NULL,
    platform_id TEXT NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX lti_logins_expiry ON lti_logins (expires_at);

-- An LMS user (issuer's `sub`) is one of our accounts, never matched by e-mail.
CREATE TABLE lti_users (
    platform_id TEXT NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    sub TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (platform_id, sub)
);
CREATE INDEX lti_users_account ON lti_users (account_id);

-- An LMS course (context) placing one of our courses: its session, and its grade book.
CREATE TABLE lti_contexts (
    id TEXT PRIMARY KEY NOT NULL,
    platform_id TEXT NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    context_id TEXT NOT NULL,
    course_slug TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    title TEXT NOT NULL,
    lineitems_url TEXT,
    -- Names and Role Provisioning: the LMS course's members, and when they were last read.
    memberships_url TEXT,
    roster_synced_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (platform_id, context_id, course_slug)
);
CREATE INDEX lti_contexts_session ON lti_contexts (session_id);

-- The platform's line items we created, or a link came with, by our tag (`completion`,
-- `quiz:<id>`).
CREATE TABLE lti_line_items (
    context_id TEXT NOT NULL REFERENCES lti_contexts (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (context_id, tag)
);

-- Grades owed to platforms (the outbox): written in the transaction that grades or
-- completes, sent by a worker, retried until the platform takes them.
CREATE TABLE lti_grades (
    id TEXT PRIMARY KEY NOT NULL,
    context_id TEXT NOT NULL REFERENCES lti_contexts (id) ON DELETE CASCADE,
    user_sub TEXT NOT NULL,
    tag TEXT NOT NULL,
    label TEXT NOT NULL,
    score_given DOUBLE PRECISION NOT NULL,
    score_maximum DOUBLE PRECISION NOT NULL,
    activity_progress TEXT NOT NULL,
    grading_progress TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX lti_grades_due ON lti_grades (next_attempt_at) WHERE sent_at IS NULL;

-- A session placed in an LMS course: only then does grading a quiz look for grade books
-- to send the score to (the exam's path stays as it was for every other session).
ALTER TABLE training_sessions ADD COLUMN lms_placed BOOLEAN NOT NULL DEFAULT FALSE;

-- LTI Dynamic Registration: addresses an organisation's admin gives a platform to register
-- us by itself (a token, kept hashed, used once, expiring).
CREATE TABLE lti_registration_invites (
    token_hash TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    created_by TEXT NOT NULL REFERENCES accounts (id),
    expires_at TIMESTAMP NOT NULL
);
