DROP TABLE du_records;
DROP TABLE du_record_counters;
DROP TABLE du_decisions;
DROP TABLE du_theses;
DROP TABLE du_unit_grades;
DROP TABLE du_attendance;
DROP TABLE du_cohorts;
