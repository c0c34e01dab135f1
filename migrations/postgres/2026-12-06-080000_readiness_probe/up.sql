-- One row that /readyz rewrites: a write that fails (disk full, read-only file, a standby)
-- makes the instance not ready, as every other write would fail.
CREATE TABLE readiness_probe (
    id INTEGER NOT NULL PRIMARY KEY,
    probed_at TIMESTAMP NOT NULL
);
INSERT INTO readiness_probe (id, probed_at) VALUES (1, CURRENT_TIMESTAMP);
