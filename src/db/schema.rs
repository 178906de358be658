// Portable types only (see `src/db/types.rs`): the same schema serves SQLite and PostgreSQL.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        full_name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Nullable<Text>,
        details -> Text,
        request_id -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    reference_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    sync_counter (id) {
        id -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    opds (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        address -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        geofence_radius_m -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sync_seq -> BigInt,
        work_week -> Text,
    }
}

diesel::table! {
    officials (id) {
        id -> Text,
        nip -> Text,
        full_name -> Text,
        employment_type -> Text,
        rank -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sync_seq -> BigInt,
    }
}

diesel::table! {
    official_assignments (id) {
        id -> Text,
        official_id -> Text,
        opd_id -> Text,
        position_title -> Text,
        position_kind -> Text,
        effective_from -> Date,
        effective_to -> Nullable<Date>,
        created_at -> Timestamp,
        jf_grade -> Nullable<Text>,
    }
}

diesel::table! {
    acting_assignments (id) {
        id -> Text,
        official_id -> Text,
        kind -> Text,
        opd_id -> Text,
        position_title -> Text,
        position_kind -> Text,
        effective_from -> Date,
        effective_to -> Nullable<Date>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(acting_assignments -> opds (opd_id));
diesel::joinable!(official_assignments -> officials (official_id));
diesel::joinable!(official_assignments -> opds (opd_id));

diesel::table! {
    inspections (id) {
        id -> Text,
        opd_id -> Text,
        inspector_id -> Text,
        status -> Text,
        started_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        notes -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        accuracy_m -> Nullable<Double>,
        distance_m -> Nullable<Double>,
        within_geofence -> Nullable<Bool>,
        request_hash -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        attendance_count -> BigInt,
        findings_count -> BigInt,
    }
}

diesel::table! {
    attendance (id) {
        id -> Text,
        inspection_id -> Text,
        official_id -> Text,
        status -> Text,
        minutes_late -> Nullable<Integer>,
        note -> Nullable<Text>,
        assignment_id -> Text,
        opd_id -> Text,
        position_title -> Text,
        position_kind -> Text,
        created_at -> Timestamp,
        minutes_early -> Nullable<Integer>,
    }
}

diesel::table! {
    findings (id) {
        id -> Text,
        inspection_id -> Text,
        official_id -> Nullable<Text>,
        category -> Text,
        severity -> Text,
        description -> Text,
        observed_at -> Timestamp,
        source -> Text,
        attendance_id -> Nullable<Text>,
        request_hash -> Text,
        assignment_id -> Nullable<Text>,
        official_opd_id -> Nullable<Text>,
        official_position_title -> Nullable<Text>,
        official_position_kind -> Nullable<Text>,
        created_at -> Timestamp,
        unexcused -> Bool,
        excused_at -> Nullable<Timestamp>,
        excused_by -> Nullable<Text>,
        excuse_reason -> Nullable<Text>,
        official_jf_grade -> Nullable<Text>,
        acting_assignment_id -> Nullable<Text>,
        acting_kind -> Nullable<Text>,
        acting_opd_id -> Nullable<Text>,
        acting_position_title -> Nullable<Text>,
        acting_position_kind -> Nullable<Text>,
    }
}

diesel::table! {
    evidence (id) {
        id -> Text,
        inspection_id -> Text,
        finding_id -> Nullable<Text>,
        sha256 -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        captured_at -> Nullable<Timestamp>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        uploaded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> Text,
        official_id -> Text,
        status -> Text,
        source -> Text,
        reason -> Text,
        raised_by -> Text,
        assignee_id -> Nullable<Text>,
        due_date -> Date,
        sanction -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        decree_number -> Nullable<Text>,
        decree_date -> Nullable<Date>,
    }
}

diesel::table! {
    follow_up_findings (follow_up_id, finding_id) {
        follow_up_id -> Text,
        finding_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    follow_up_events (id) {
        id -> Text,
        follow_up_id -> Text,
        at -> Timestamp,
        actor_id -> Text,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Nullable<Text>,
        sanction -> Nullable<Text>,
        assignee_id -> Nullable<Text>,
        due_date -> Nullable<Date>,
        decree_number -> Nullable<Text>,
        decree_date -> Nullable<Date>,
    }
}

diesel::table! {
    rollup_daily (day, opd_id) {
        day -> Date,
        opd_id -> Text,
        inspections -> BigInt,
        outside_geofence -> BigInt,
        attendance_checked -> BigInt,
        present -> BigInt,
        late -> BigInt,
        absent_unexcused -> BigInt,
        f_absence -> BigInt,
        f_lateness -> BigInt,
        f_idle -> BigInt,
        f_poor_service -> BigInt,
        f_facility -> BigInt,
        f_administrative -> BigInt,
        f_integrity -> BigInt,
        f_other -> BigInt,
        s_low -> BigInt,
        s_medium -> BigInt,
        s_high -> BigInt,
        s_critical -> BigInt,
    }
}

diesel::table! {
    rollup_official_daily (day, official_id) {
        day -> Date,
        official_id -> Text,
        findings -> BigInt,
    }
}

diesel::table! {
    rollup_monthly (month, opd_id) {
        month -> Date,
        opd_id -> Text,
        inspections -> BigInt,
        outside_geofence -> BigInt,
        attendance_checked -> BigInt,
        present -> BigInt,
        late -> BigInt,
        absent_unexcused -> BigInt,
        f_absence -> BigInt,
        f_lateness -> BigInt,
        f_idle -> BigInt,
        f_poor_service -> BigInt,
        f_facility -> BigInt,
        f_administrative -> BigInt,
        f_integrity -> BigInt,
        f_other -> BigInt,
        s_low -> BigInt,
        s_medium -> BigInt,
        s_high -> BigInt,
        s_critical -> BigInt,
    }
}

diesel::table! {
    rollup_day_total (day) {
        day -> Date,
        inspections -> BigInt,
        outside_geofence -> BigInt,
        attendance_checked -> BigInt,
        present -> BigInt,
        late -> BigInt,
        absent_unexcused -> BigInt,
        f_absence -> BigInt,
        f_lateness -> BigInt,
        f_idle -> BigInt,
        f_poor_service -> BigInt,
        f_facility -> BigInt,
        f_administrative -> BigInt,
        f_integrity -> BigInt,
        f_other -> BigInt,
        s_low -> BigInt,
        s_medium -> BigInt,
        s_high -> BigInt,
        s_critical -> BigInt,
    }
}

diesel::table! {
    rollup_official_monthly (month, official_id) {
        month -> Date,
        official_id -> Text,
        findings -> BigInt,
    }
}

diesel::joinable!(inspections -> opds (opd_id));
diesel::joinable!(inspections -> users (inspector_id));

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        scopes -> Text,
    }
}

diesel::table! {
    dashboard_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    audit_log,
    reference_version,
    sync_counter,
    opds,
    officials,
    official_assignments,
    acting_assignments,
    inspections,
    attendance,
    findings,
    evidence,
    follow_ups,
    follow_up_findings,
    follow_up_events,
    rollup_daily,
    rollup_official_daily,
    rollup_monthly,
    rollup_day_total,
    rollup_official_monthly,
    api_keys,
    dashboard_version,
    holidays,
);
diesel::table! {
    holidays (day) {
        day -> Date,
        name -> Text,
        kind -> Text,
        cancelled -> Bool,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    backup_runs (id) {
        id -> BigInt,
        slot -> Nullable<Text>,
        trigger -> Text,
        holder -> Text,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        outcome -> Text,
        location -> Nullable<Text>,
        files -> Nullable<BigInt>,
        bytes -> Nullable<BigInt>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_events (seq) {
        seq -> BigInt,
        id -> Text,
        event_type -> Text,
        subject_id -> Text,
        occurred_at -> BigInt,
        payload -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        event_types -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_valid_until -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        failing_since -> Nullable<BigInt>,
        disabled_at -> Nullable<BigInt>,
        disabled_reason -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_seq -> BigInt,
        status -> Text,
        attempts -> Integer,
        created_at -> BigInt,
        next_attempt_at -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_fanout (name) {
        name -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    webhook_overdue (follow_up_id, due_date) {
        follow_up_id -> Text,
        due_date -> Date,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_seq));
diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, webhooks, webhook_events);
diesel::allow_tables_to_appear_in_same_query!(follow_ups, webhook_overdue);
