-- The university diploma: cohorts, seminar attendance, unit grades, theses, jury decisions
-- and numbered completion records. Grades are kept in hundredths of a point (exact).
CREATE TABLE du_cohorts (
    session_id TEXT NOT NULL PRIMARY KEY REFERENCES training_sessions (id),
    -- The second university of an inter-university diploma, named on the records.
    partner_organisation_id TEXT REFERENCES organisations (id),
    -- JSON array of the responsible academics' names.
    responsibles TEXT NOT NULL,
    minutes_closed_at TIMESTAMP,
    minutes_closed_by TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE du_attendance (
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    unit_id TEXT NOT NULL,
    day DATE NOT NULL,
    present BOOLEAN NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (enrolment_id, unit_id, day)
);

CREATE TABLE du_unit_grades (
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    unit_id TEXT NOT NULL,
    grade_hundredths INTEGER NOT NULL,
    graded_by TEXT NOT NULL,
    graded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (enrolment_id, unit_id)
);

CREATE TABLE du_theses (
    enrolment_id TEXT NOT NULL PRIMARY KEY REFERENCES enrolments (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    supervisor TEXT NOT NULL,
    grade_hundredths INTEGER,
    defended_on DATE,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every decision is kept; the newest is in force. Once the minutes are closed, a new one
-- needs a reason (and is audited).
CREATE TABLE du_decisions (
    id TEXT NOT NULL PRIMARY KEY,
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    decision TEXT NOT NULL,
    mention TEXT,
    decided_on DATE NOT NULL,
    -- JSON array of the jury members' names.
    jury TEXT NOT NULL,
    reason TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX du_decisions_enrolment ON du_decisions (enrolment_id, recorded_at);

-- Record numbers: `<university code>-<year>-<sequence>`, gap-free per university and year
-- (the counter row is taken in the issuing transaction).
CREATE TABLE du_record_counters (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    year INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    PRIMARY KEY (organisation_id, year)
);

CREATE TABLE du_records (
    number TEXT NOT NULL PRIMARY KEY,
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    decision_id TEXT NOT NULL REFERENCES du_decisions (id) ON DELETE CASCADE,
    certificate_id TEXT NOT NULL UNIQUE REFERENCES certificates (id) ON DELETE CASCADE,
    organisation_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    UNIQUE (organisation_id, year, sequence)
);
CREATE INDEX du_records_enrolment ON du_records (enrolment_id);
