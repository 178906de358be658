// Portable types only (DESIGN.md §2): the same schema serves SQLite and PostgreSQL.

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
    audit_log (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Nullable<Text>,
        details -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, refresh_tokens, audit_log);

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
    }
}

diesel::joinable!(official_assignments -> officials (official_id));
diesel::joinable!(official_assignments -> opds (opd_id));
diesel::allow_tables_to_appear_in_same_query!(opds, officials, official_assignments, sync_counter);
