//! What a committed change made stale in the in-memory caches: a plain value the services
//! return and the application state applies (`AppState::forget`), so services need not
//! know the caches, and a new entry point cannot forget to apply it.

/// What a committed change made stale in the caches of `AppState`: the services that
/// disable, erase or sign out an account, withdraw an enrolment or edit a session return
/// it, and the caller hands it to `AppState::forget` once their transaction has committed
/// (forgotten earlier, a concurrent request could cache the old state again). `#[must_use]`
/// and `-D warnings` make an entry point that drops it fail to build.
#[must_use = "hand it to AppState::forget once the transaction has committed"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// An account disabled, erased or signed out everywhere: its next request is checked
    /// against the database, and so are its heartbeats.
    Account(String),
    /// A withdrawn enrolment: its heartbeats stop crediting time at once.
    Enrolment(String),
    /// A session edited, closed or reopened: its heartbeats are checked again.
    Session(String),
}
