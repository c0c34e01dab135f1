//! Integration tests: the real server on port 0, a fresh database per test (SQLite file by
//! default; PostgreSQL when `TEST_DATABASE_URL=postgres://…`, as `scripts/test` does),
//! spoken to over HTTP.

mod browser;
mod catalog;
mod certificates;
mod demo;
mod du;
mod enrolment;
mod enrolment_import;
mod health;
mod helpers;
mod identity_orgs;
mod identity_privacy;
mod identity_proof;
mod identity_sessions;
mod identity_signup;
mod identity_tokens;
mod journeys;
mod learning;
mod lti;
mod migrations;
mod openapi;
mod outbox;
mod pages;
mod pdf_tables;
mod plans;
mod problems;
mod psc;
mod quiz;
mod quiz_proof;
mod reports;
mod resources;
mod security;
mod shutdown;
mod staff_pages;
mod time_on_task;
