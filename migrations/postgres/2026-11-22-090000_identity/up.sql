-- Who is who: accounts, organisations, memberships; the tokens and counters that
-- authentication needs; the audit log of administrative actions.
CREATE TABLE accounts (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,            -- lower-cased by Email::parse
    full_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    profession TEXT NOT NULL,
    rpps TEXT,
    adeli TEXT,
    student_number TEXT,
    mode_exercice TEXT,
    is_platform_admin BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified_at TIMESTAMP,
    disabled_at TIMESTAMP,
    erased_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE organisations (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    siret TEXT,
    uai TEXT,
    odpc_number TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    organisation_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);

-- Refresh tokens rotate: each use marks the token used and issues a sibling in the same
-- family; presenting a used token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- E-mail verification and password reset links: single use, expiring, stored hashed.
CREATE TABLE one_time_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- Failed logins, shared by every app instance, for throttling.
CREATE TABLE login_failures (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

CREATE TABLE audit_log (
    id TEXT NOT NULL PRIMARY KEY,
    actor_id TEXT,
    action TEXT NOT NULL,
    organisation_id TEXT,
    target_id TEXT,
    details TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_organisation ON audit_log (organisation_id, at);
