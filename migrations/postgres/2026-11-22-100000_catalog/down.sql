DROP TABLE course_lessons;
DROP TABLE course_versions;
DROP TABLE courses;
