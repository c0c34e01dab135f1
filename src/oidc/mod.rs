//! Signing in with OpenID Connect providers — Pro Santé Connect, the national identity of
//! health professionals, and any provider a university or school runs: the relying party
//! (authorization code with PKCE, id_token and userinfo verified, back-channel logout),
//! the claims mapped to our accounts (`claims`), and the pages of the flow (`routes`).

pub mod claims;
pub mod model;
pub mod provider;
pub mod routes;
pub mod service;
pub mod settings;
pub mod store;
