-- Quiz attempts. The paper (drawn items and the order of everything shown) is fixed at
-- start and stored whole, so grading never depends on a random generator's version.
CREATE TABLE quiz_attempts (
    id TEXT NOT NULL PRIMARY KEY,
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    quiz_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    paper TEXT NOT NULL,
    answers TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    -- Start plus the time limit and the learner's extra time; NULL without a limit.
    deadline TIMESTAMP,
    answers_saved_at TIMESTAMP,
    submitted_at TIMESTAMP,
    auto_submitted BOOLEAN NOT NULL DEFAULT FALSE,
    score_points REAL,
    max_points REAL,
    percent REAL,
    passed BOOLEAN,
    grading TEXT,
    -- The Idempotency-Key of the submit, and a hash of its body, to replay or refuse.
    idempotency_key TEXT,
    request_hash TEXT,
    UNIQUE (enrolment_id, quiz_id, number)
);
-- At most one open attempt per learner and quiz, whatever the concurrency.
CREATE UNIQUE INDEX quiz_attempts_one_open ON quiz_attempts (enrolment_id, quiz_id)
    WHERE submitted_at IS NULL;
CREATE INDEX quiz_attempts_due ON quiz_attempts (deadline) WHERE submitted_at IS NULL;
CREATE INDEX quiz_attempts_quiz ON quiz_attempts (quiz_id, submitted_at);

-- Extra time for a learner (tiers-temps), set by the organisation.
CREATE TABLE quiz_accommodations (
    enrolment_id TEXT NOT NULL PRIMARY KEY REFERENCES enrolments (id) ON DELETE CASCADE,
    extra_time_percent INTEGER NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
