//! Operating the service: liveness and readiness probes, and the OpenAPI document.
//! (Prometheus metrics come from the `actix-web-prom` middleware wired in `startup`.)

pub mod health;
pub mod openapi;
