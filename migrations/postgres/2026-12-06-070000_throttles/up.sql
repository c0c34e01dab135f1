-- Throttles shared by every instance: recent events per (action, subject), e.g. a wrong
-- enrolment key per (session, account) and per client address, a registration per address.
CREATE TABLE throttle_events (
    id TEXT NOT NULL PRIMARY KEY,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_events_subject ON throttle_events (action, subject, at);

-- Password-reset requests, answered at once and handled by a background job: the answer
-- costs the same whether the address has an account or not.
CREATE TABLE password_reset_requests (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX password_reset_requests_at ON password_reset_requests (requested_at);
