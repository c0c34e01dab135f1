DROP TABLE certificate_tombstones;
DROP TABLE certificates;
