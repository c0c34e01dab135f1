-- An organisation's local resources (helpline, occupational health, referents…): one row
-- per filled field of src/resources/fields.toml; an empty field has no row.
CREATE TABLE organisation_resources (
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    -- Who last changed it (forgotten when that account is purged).
    updated_by TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_id, key)
);

-- Work learners do on a lesson's page (self-audits, cases, reflections, action plans):
-- the last answer, kept for the learner and the trace record.
CREATE TABLE activity_answers (
    enrolment_id TEXT NOT NULL REFERENCES enrolments(id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    first_answered_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (enrolment_id, lesson_id, activity_id)
);

-- The orientation prioritaire the training body declares for a DPC session.
ALTER TABLE training_sessions ADD COLUMN dpc_orientation TEXT;
