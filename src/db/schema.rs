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

diesel::table! {
    accounts (id) {
        id -> Text,
        email -> Text,
        full_name -> Text,
        password_hash -> Text,
        profession -> Text,
        rpps -> Nullable<Text>,
        adeli -> Nullable<Text>,
        student_number -> Nullable<Text>,
        mode_exercice -> Nullable<Text>,
        is_platform_admin -> Bool,
        email_verified_at -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        erased_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        page_session_epoch -> Integer,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
    }
}

diesel::table! {
    organisations (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        siret -> Nullable<Text>,
        uai -> Nullable<Text>,
        odpc_number -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    memberships (organisation_id, account_id) {
        organisation_id -> Text,
        account_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        account_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> Text,
        account_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        organisation_id -> Nullable<Text>,
        target_id -> Nullable<Text>,
        details -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    courses (slug) {
        slug -> Text,
        current_version_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    course_versions (id) {
        id -> Text,
        course_slug -> Text,
        content_hash -> Text,
        version_label -> Text,
        title -> Text,
        kind -> Text,
        duration_minutes -> Integer,
        lesson_count -> Integer,
        content -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    course_lessons (version_id, lesson_id) {
        version_id -> Text,
        lesson_id -> Text,
        position -> Integer,
        unit_id -> Nullable<Text>,
        title -> Text,
        minutes -> Integer,
        html -> Text,
    }
}

diesel::table! {
    training_sessions (id) {
        id -> Text,
        organisation_id -> Text,
        course_slug -> Text,
        course_version_id -> Text,
        title -> Text,
        opens_on -> Date,
        closes_on -> Date,
        capacity -> Nullable<Integer>,
        active_count -> Integer,
        enrolment_mode -> Text,
        enrolment_key_hash -> Nullable<Text>,
        dpc_action_ref -> Nullable<Text>,
        dpc_session_no -> Nullable<Text>,
        dpc_orientation -> Nullable<Text>,
        odpc_number -> Nullable<Text>,
        academic_year -> Nullable<Text>,
        curriculum -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        lms_placed -> Bool,
        requires_verified_rpps -> Bool,
    }
}

diesel::table! {
    enrolments (id) {
        id -> Text,
        session_id -> Text,
        account_id -> Text,
        course_version_id -> Text,
        status -> Text,
        enrolled_by -> Nullable<Text>,
        enrolled_at -> Timestamp,
        withdrawn_by -> Nullable<Text>,
        withdrawn_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    lesson_progress (enrolment_id, lesson_id) {
        enrolment_id -> Text,
        lesson_id -> Text,
        first_viewed_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    time_intervals (id) {
        id -> Text,
        enrolment_id -> Text,
        lesson_id -> Text,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        active_seconds -> Integer,
    }
}

diesel::table! {
    completions (enrolment_id) {
        enrolment_id -> Text,
        completed_at -> Timestamp,
        active_seconds -> Integer,
    }
}

diesel::table! {
    quiz_attempts (id) {
        id -> Text,
        enrolment_id -> Text,
        quiz_id -> Text,
        number -> Integer,
        paper -> Text,
        answers -> Text,
        started_at -> Timestamp,
        deadline -> Nullable<Timestamp>,
        answers_saved_at -> Nullable<Timestamp>,
        submitted_at -> Nullable<Timestamp>,
        auto_submitted -> Bool,
        score_points -> Nullable<Double>,
        max_points -> Nullable<Double>,
        percent -> Nullable<Double>,
        passed -> Nullable<Bool>,
        grading -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_hash -> Nullable<Text>,
    }
}

diesel::table! {
    quiz_accommodations (enrolment_id) {
        enrolment_id -> Text,
        extra_time_percent -> Integer,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    certificates (id) {
        id -> Text,
        enrolment_id -> Text,
        organisation_id -> Text,
        session_id -> Text,
        account_id -> Text,
        code -> Text,
        kind -> Text,
        snapshot -> Text,
        issued_at -> Timestamp,
        status_index -> Integer,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
        revocation_reason -> Nullable<Text>,
        replaces_id -> Nullable<Text>,
    }
}

diesel::table! {
    certificate_tombstones (status_index) {
        status_index -> Integer,
        buried_at -> Timestamp,
    }
}

diesel::table! {
    du_cohorts (session_id) {
        session_id -> Text,
        partner_organisation_id -> Nullable<Text>,
        responsibles -> Text,
        minutes_closed_at -> Nullable<Timestamp>,
        minutes_closed_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    du_attendance (enrolment_id, unit_id, day) {
        enrolment_id -> Text,
        unit_id -> Text,
        day -> Date,
        present -> Bool,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    du_unit_grades (enrolment_id, unit_id) {
        enrolment_id -> Text,
        unit_id -> Text,
        grade_hundredths -> Integer,
        graded_by -> Text,
        graded_at -> Timestamp,
    }
}

diesel::table! {
    du_theses (enrolment_id) {
        enrolment_id -> Text,
        title -> Text,
        supervisor -> Text,
        grade_hundredths -> Nullable<Integer>,
        defended_on -> Nullable<Date>,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    du_decisions (id) {
        id -> Text,
        enrolment_id -> Text,
        decision -> Text,
        mention -> Nullable<Text>,
        decided_on -> Date,
        jury -> Text,
        reason -> Nullable<Text>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    du_record_counters (organisation_id, year) {
        organisation_id -> Text,
        year -> Integer,
        last_sequence -> Integer,
    }
}

diesel::table! {
    du_records (number) {
        number -> Text,
        enrolment_id -> Text,
        decision_id -> Text,
        certificate_id -> Text,
        organisation_id -> Text,
        year -> Integer,
        sequence -> Integer,
        issued_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(completions, certificates);
diesel::allow_tables_to_appear_in_same_query!(completions, enrolments);
diesel::allow_tables_to_appear_in_same_query!(completions, accounts);
diesel::allow_tables_to_appear_in_same_query!(accounts, certificates);
diesel::joinable!(quiz_attempts -> enrolments (enrolment_id));
diesel::allow_tables_to_appear_in_same_query!(quiz_attempts, enrolments);
diesel::allow_tables_to_appear_in_same_query!(quiz_attempts, training_sessions);
diesel::allow_tables_to_appear_in_same_query!(quiz_attempts, accounts);
diesel::joinable!(enrolments -> training_sessions (session_id));
diesel::joinable!(enrolments -> accounts (account_id));
diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(memberships -> organisations (organisation_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, organisations, memberships);
diesel::allow_tables_to_appear_in_same_query!(courses, course_versions, course_lessons);
diesel::allow_tables_to_appear_in_same_query!(training_sessions, enrolments, accounts);
diesel::allow_tables_to_appear_in_same_query!(organisations, training_sessions);
diesel::allow_tables_to_appear_in_same_query!(organisations, enrolments);

diesel::table! {
    organisation_resources (organisation_id, key) {
        organisation_id -> Text,
        key -> Text,
        value -> Text,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    activity_answers (enrolment_id, lesson_id, activity_id) {
        enrolment_id -> Text,
        lesson_id -> Text,
        activity_id -> Text,
        answer -> Text,
        first_answered_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::joinable!(activity_answers -> enrolments (enrolment_id));
diesel::allow_tables_to_appear_in_same_query!(activity_answers, enrolments);

diesel::table! {
    throttle_events (id) {
        id -> Text,
        action -> Text,
        subject -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    password_reset_requests (id) {
        id -> Text,
        email -> Text,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    readiness_probe (id) {
        id -> Integer,
        probed_at -> Timestamp,
    }
}

diesel::table! {
    address_quotas (action, address, minute) {
        action -> Text,
        address -> Text,
        minute -> BigInt,
        used -> Integer,
        granted -> Integer,
    }
}

diesel::table! {
    lti_platforms (id) {
        id -> Text,
        organisation_id -> Text,
        name -> Text,
        issuer -> Text,
        client_id -> Text,
        auth_url -> Text,
        token_url -> Text,
        jwks_url -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lti_deployments (platform_id, deployment_id) {
        platform_id -> Text,
        deployment_id -> Text,
    }
}

diesel::table! {
    lti_logins (state) {
        state -> Text,
        nonce -> Text,
        platform_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    lti_users (platform_id, sub) {
        platform_id -> Text,
        sub -> Text,
        account_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lti_contexts (id) {
        id -> Text,
        platform_id -> Text,
        context_id -> Text,
        course_slug -> Text,
        session_id -> Text,
        title -> Text,
        lineitems_url -> Nullable<Text>,
        memberships_url -> Nullable<Text>,
        roster_synced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lti_line_items (context_id, tag) {
        context_id -> Text,
        tag -> Text,
        url -> Text,
    }
}

diesel::table! {
    lti_grades (id) {
        id -> Text,
        context_id -> Text,
        user_sub -> Text,
        tag -> Text,
        label -> Text,
        score_given -> Double,
        score_maximum -> Double,
        activity_progress -> Text,
        grading_progress -> Text,
        occurred_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}
diesel::joinable!(lti_deployments -> lti_platforms (platform_id));
diesel::joinable!(lti_contexts -> lti_platforms (platform_id));
diesel::joinable!(lti_grades -> lti_contexts (context_id));
diesel::joinable!(lti_users -> lti_platforms (platform_id));
diesel::joinable!(lti_line_items -> lti_contexts (context_id));
diesel::allow_tables_to_appear_in_same_query!(
    lti_platforms,
    lti_deployments,
    lti_contexts,
    lti_grades,
    lti_users,
    lti_line_items
);

diesel::table! {
    lti_registration_invites (token_hash) {
        token_hash -> Text,
        organisation_id -> Text,
        created_by -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    oidc_logins (state) {
        state -> Text,
        provider -> Text,
        nonce -> Text,
        link_account_id -> Nullable<Text>,
        return_to -> Nullable<Text>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    oidc_identities (provider, subject) {
        provider -> Text,
        subject -> Text,
        account_id -> Text,
        rpps -> Nullable<Text>,
        profession_code -> Nullable<Text>,
        linked_at -> Timestamp,
        last_sign_in_at -> Timestamp,
    }
}

diesel::table! {
    oidc_pending_links (token_hash) {
        token_hash -> Text,
        provider -> Text,
        subject -> Text,
        identity -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(oidc_identities -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(oidc_identities, accounts);
