-- What a learner did in an enrolment: lessons viewed and done, time on task as
-- intervals (the evidence behind the traceability record), and completion.
CREATE TABLE lesson_progress (
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL,
    first_viewed_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    PRIMARY KEY (enrolment_id, lesson_id)
);

-- Server-measured activity: one row per stretch of continuous heartbeats on a lesson.
CREATE TABLE time_intervals (
    id TEXT NOT NULL PRIMARY KEY,
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    active_seconds INTEGER NOT NULL
);
CREATE INDEX time_intervals_enrolment ON time_intervals (enrolment_id, started_at);

-- One row per completed enrolment: the completion event certificates are issued from.
CREATE TABLE completions (
    enrolment_id TEXT NOT NULL PRIMARY KEY REFERENCES enrolments (id) ON DELETE CASCADE,
    completed_at TIMESTAMP NOT NULL,
    active_seconds INTEGER NOT NULL
);
