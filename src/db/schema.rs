//! The tables, written once with the SQL types both backends share
//! (UUIDs and JSON as Text, instants as UTC `Timestamp`).

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        recipient -> Text,
        template -> Text,
        context -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}
