-- Certificates: an immutable snapshot of what is attested, its public verification code,
-- its place in the revocation status list, and its revocation. Deleted only with the
-- account, when `purge` removes it after the retention period.
CREATE TABLE certificates (
    id TEXT NOT NULL PRIMARY KEY,
    enrolment_id TEXT NOT NULL REFERENCES enrolments (id) ON DELETE CASCADE,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 140 random bits, Crockford base32 without separators.
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    status_index INTEGER NOT NULL UNIQUE,
    revoked_at TIMESTAMP,
    revoked_by TEXT,
    revocation_reason TEXT,
    -- A corrected re-issue points to the certificate it replaces (which is revoked).
    replaces_id TEXT UNIQUE REFERENCES certificates (id) ON DELETE CASCADE
);
-- Exactly one original certificate of each kind per enrolment (the attestation of the
-- completed training; for a DU, also the completion record), whatever the concurrency.
CREATE UNIQUE INDEX certificates_one_per_enrolment ON certificates (enrolment_id, kind)
    WHERE replaces_id IS NULL;
CREATE INDEX certificates_session ON certificates (session_id);
CREATE INDEX certificates_account ON certificates (account_id);

-- The status-list bits of certificates purged with their holder's account (after the
-- retention period): they stay set, so a purged certificate never reads as valid again.
CREATE TABLE certificate_tombstones (
    status_index INTEGER NOT NULL PRIMARY KEY,
    buried_at TIMESTAMP NOT NULL
);
