-- Per-address quotas shared by every instance (the public verification's), one row per
-- action, client address and minute: `used` is what instances have taken in leases,
-- `granted` the last lease. UNLOGGED: no WAL for a count that a crash or a failover may
-- forget (it only resets the quotas of the minute).
CREATE UNLOGGED TABLE address_quotas (
    action TEXT NOT NULL,
    address TEXT NOT NULL,
    minute BIGINT NOT NULL,
    used INTEGER NOT NULL,
    granted INTEGER NOT NULL,
    PRIMARY KEY (action, address, minute)
);
