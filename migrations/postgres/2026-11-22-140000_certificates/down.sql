DROP TABLE certificate_counters;
DROP TABLE certificates;
