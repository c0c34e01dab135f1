//! What a committed change made stale in the in-memory caches: a plain value the services
//! return and the application state applies (`AppState::forget`), so services need not
//! know the caches, and a new entry point cannot forget to apply it; and [`peers`], which
//! tells the other instances on the same PostgreSQL database.

pub mod peers;

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

impl Stale {
    /// The item as one line, `account:<id>` (a `NOTIFY` payload, see [`peers`]).
    pub fn encode(&self) -> String {
        match self {
            Stale::Account(id) => format!("account:{id}"),
            Stale::Enrolment(id) => format!("enrolment:{id}"),
            Stale::Session(id) => format!("session:{id}"),
        }
    }

    /// An encoded item, or `None` for anything else (a payload from another version).
    pub fn decode(line: &str) -> Option<Stale> {
        let (kind, id) = line.split_once(':')?;
        if id.is_empty() || id.len() > 64 {
            return None;
        }
        let id = id.to_owned();
        match kind {
            "account" => Some(Stale::Account(id)),
            "enrolment" => Some(Stale::Enrolment(id)),
            "session" => Some(Stale::Session(id)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stale;

    #[test]
    fn an_item_comes_back_as_it_was_sent_and_anything_else_is_ignored() {
        for stale in [
            Stale::Account("a1".into()),
            Stale::Enrolment("e-2".into()),
            Stale::Session("0f8c9a4e-1b2c-4d5e-8f90-123456789abc".into()),
        ] {
            assert_eq!(Stale::decode(&stale.encode()), Some(stale));
        }
        for other in [
            "",
            "account:",
            "account",
            "cohort:x",
            ":x",
            &format!("account:{}", "x".repeat(65)),
        ] {
            assert_eq!(Stale::decode(other), None, "{other}");
        }
    }
}
