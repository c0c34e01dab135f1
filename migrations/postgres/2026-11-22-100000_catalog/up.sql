-- The course catalogue. Each distinct content of a course folder is an immutable version
-- (identified by the hash of its files); enrolments pin one, so editing a course never
-- changes what an enrolled learner follows.
CREATE TABLE courses (
    slug TEXT NOT NULL PRIMARY KEY,
    current_version_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE course_versions (
    id TEXT NOT NULL PRIMARY KEY,
    course_slug TEXT NOT NULL REFERENCES courses (slug),
    content_hash TEXT NOT NULL,
    version_label TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    lesson_count INTEGER NOT NULL,
    -- The whole validated course as JSON, answers included: server-side only.
    content TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    UNIQUE (course_slug, content_hash)
);

CREATE TABLE course_lessons (
    version_id TEXT NOT NULL REFERENCES course_versions (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    unit_id TEXT,
    title TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    html TEXT NOT NULL,
    PRIMARY KEY (version_id, lesson_id)
);
