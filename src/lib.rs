//! Sidak: the backend of the surprise-inspection (sidak) teams of Indonesian local
//! governments. The map (`ARCHITECTURE.md` has the rest):
//! `http` handlers (and `console`, the web pages) → `service` use cases → `db` queries (one transaction helper, `db::tx`);
//! `domain` holds the rules without I/O, `auth` who the caller is, `storage` photo bytes;
//! `config`, `startup`, `error` (one error type, problem+json), `cli` the command line.
//! A layer calls only those below it. `README.md` says how to run it; `openapi.yaml` is the API.

pub mod auth;
pub mod cli;
pub mod config;
pub(crate) mod console;
pub mod db;
pub mod domain;
pub mod error;
pub(crate) mod http;
pub(crate) mod metrics;
pub mod openapi;
pub(crate) mod service;
pub mod startup;
pub(crate) mod state;
pub mod storage;
pub(crate) mod telemetry;

#[cfg(test)]
mod layering {
    /// The layering rule, kept by a test: nothing under `src/service`, `src/db` or
    /// `src/domain` imports `actix_web` or `crate::http` (see ARCHITECTURE.md).
    #[test]
    fn lower_layers_do_not_reach_up() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for layer in ["service", "db", "domain"] {
            let dir = root.join(layer);
            let entries = std::fs::read_dir(&dir).expect("layer folder");
            for entry in entries.flatten() {
                let path = entry.path();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    if code.contains("actix_web") || code.contains("crate::http") {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }
}
