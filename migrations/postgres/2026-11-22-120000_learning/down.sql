DROP TABLE completions;
DROP TABLE time_intervals;
DROP TABLE lesson_progress;
