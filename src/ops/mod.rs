//! Operating the service: liveness and readiness probes, the OpenAPI document, and who
//! may read the Prometheus metrics (from the `actix-web-prom` middleware wired in
//! `startup`).

pub mod health;
pub mod metrics;
pub mod openapi;
