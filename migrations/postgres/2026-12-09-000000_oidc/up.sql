-- OpenID Connect sign-in (Pro Santé Connect, a university's provider): the logins in
-- flight, the provider identities linked to accounts, and the links waiting for the
-- existing account to prove itself. Providers themselves are settings (their client
-- secrets stay out of the database).

-- One row per sign-in started: `state` and `nonce` serve once (the return deletes the
-- row) and expire. The PKCE verifier is not here: it lives in the browser's cookie only.
CREATE TABLE oidc_logins (
    state TEXT PRIMARY KEY NOT NULL,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    -- The signed-in account that asked to link this provider (« Mon compte »), if any.
    link_account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    return_to TEXT,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

-- A provider's subject is one of our accounts. `rpps` is the number the provider vouched
-- for (Pro Santé Connect): the account's RPPS is « vérifié » while it equals it.
CREATE TABLE oidc_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    rpps TEXT,
    profession_code TEXT,
    linked_at TIMESTAMP NOT NULL,
    last_sign_in_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_identities_account ON oidc_identities (account_id);
CREATE UNIQUE INDEX oidc_identities_one_per_provider ON oidc_identities (account_id, provider);

-- A provider identity whose e-mail or RPPS belongs to an existing account: linked only
-- once that account proves itself (its password). Only the token's hash is kept.
CREATE TABLE oidc_pending_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    identity TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- A training body may accept only practitioners whose RPPS a provider verified.
ALTER TABLE training_sessions ADD COLUMN requires_verified_rpps BOOLEAN NOT NULL DEFAULT FALSE;
