-- Per-address quotas shared by instances: PostgreSQL only (one SQLite database has one
-- instance, which counts in memory); the table is here so both schemas stay the same.
CREATE TABLE address_quotas (
    action TEXT NOT NULL,
    address TEXT NOT NULL,
    minute BIGINT NOT NULL,
    used INTEGER NOT NULL,
    granted INTEGER NOT NULL,
    PRIMARY KEY (action, address, minute)
);
