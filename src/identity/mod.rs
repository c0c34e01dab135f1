//! Identity: who is who (accounts, organisations, memberships and roles) and how they prove
//! it (passwords, access and refresh tokens), plus the authorisation checks every other
//! capability reuses ([`auth`]).

pub mod auth;
pub mod credentials;
pub mod current;
pub mod members;
pub mod model;
pub mod numbers;
pub mod password;
pub mod routes;
pub mod service;
pub mod store;
pub mod tokens;
