//! The command line: `serve` (default), `migrate`, `user create`, `api-key create|list|revoke`,
//! `openapi`, and the data tools.

use std::io::BufRead;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::{self, ConnectionManager, DbUuid};
use crate::domain::user::{self as rules, Role};
use crate::service::Ctx;
use crate::startup::{self, Application};

#[derive(Debug, Parser)]
#[command(name = "sidak", version, about = "Sidak: surprise-inspection backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys for dashboards (read-only machine access).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Import reference data from a CSV file (same rules as the API: all or nothing).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Generate deterministic demo data (submitted reports over the past year) through a
    /// bulk path that maintains the same rollups as the API.
    DemoData {
        #[arg(long, default_value_t = 60)]
        opds: usize,
        #[arg(long, default_value_t = 5000)]
        officials: usize,
        #[arg(long, default_value_t = 100_000)]
        inspections: usize,
        #[arg(long, default_value_t = 1_000_000)]
        findings: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Take a consistent snapshot of the database and every photo it points at, with a
    /// manifest (while the server runs), into `--to` (default `SIDAK_BACKUP_TO`, else
    /// `<data>/backups`); `backup verify` checks one; `backup list` lists them.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        /// A folder, or `s3://bucket[/prefix]` (with the `AWS_*` settings), that receives the
        /// snapshot `sidak-<UTC time>`.
        #[arg(long)]
        to: Option<String>,
        /// After the backup, keep only the newest N snapshots there (and remove what killed
        /// backups left); without it, nothing is removed.
        #[arg(long)]
        keep: Option<usize>,
        #[command(subcommand)]
        what: Option<BackupCommand>,
    },
    /// Restore a snapshot into an empty data directory (or an empty PostgreSQL database):
    /// the database, then every photo into the configured store; ends with the audit chain
    /// verified.
    Restore {
        /// The snapshot: its folder, or `s3://bucket[/prefix]/sidak-<time>`.
        #[arg(long)]
        from: String,
        /// The data directory to restore into (default: `SIDAK_DATA_DIR`).
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Replace a database that holds data.
        #[arg(long)]
        force: bool,
    },
    /// The photo store (`SIDAK_EVIDENCE_URL`).
    Evidence {
        #[command(subcommand)]
        what: EvidenceCommand,
    },
    /// Dashboard rollups.
    Rollups {
        #[command(subcommand)]
        what: RollupsCommand,
    },
    /// Print the OpenAPI document (YAML) to standard output.
    Openapi,
    /// Ask the server at `SIDAK_BIND` (on this machine) whether it is ready (`/readyz`);
    /// exits non-zero when it is not. For container health checks: the image has no curl.
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum RollupsCommand {
    /// Recompute every rollup from the stored reports.
    Rebuild,
    /// Compare every rollup with a rebuild (in a transaction that is rolled back: nothing
    /// changes); exits non-zero and prints the rows that differ when they are not equal.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Re-hash every file of a snapshot (its folder, or `s3://bucket[/prefix]/sidak-<time>`,
    /// downloaded first) against its manifest and check the audit chain of its database up
    /// to the recorded head; exits non-zero when anything differs.
    Verify { snapshot: String },
    /// The snapshots in `--to` (default `SIDAK_BACKUP_TO`), newest first; unfinished ones
    /// are marked so.
    List {
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Copy every photo the records point at to another store (a path, `file:///…` or
    /// `s3://bucket[/prefix]`, with the same `AWS_*` settings as the server), reading each
    /// back to check its SHA-256. Then point `SIDAK_EVIDENCE_URL` at it and restart; run it
    /// again just before, to copy what was uploaded meanwhile.
    Migrate {
        #[arg(long)]
        to: String,
    },
    /// Remove stored objects that no record points at and that were stored longer ago than
    /// the grace period (an upload in flight is younger).
    Gc {
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
        /// List what would go, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero when it does not verify.
    Verify {
        /// A head exported earlier (`SEQ:HASH` from `sidak audit head`): also detects a
        /// truncated tail.
        #[arg(long)]
        head: Option<String>,
    },
    /// Print the current head (`SEQ:HASH`), to keep outside the database.
    Head,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Officials: columns nip, full_name, employment_type, position_title, position_kind,
    /// rank, opd_code, effective_from.
    Officials {
        file: std::path::PathBuf,
        /// Check and report without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// OPDs: columns code, name, kind, address, latitude, longitude, geofence_radius_m.
    Opds {
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from SIDAK_USER_PASSWORD if set, else from the
    /// first line of standard input — never from an argument.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Defaults to the username.
        #[arg(long)]
        full_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print its secret (once; only a hash is stored).
    Create {
        #[arg(long)]
        name: String,
        /// `viewer` or `supervisor`.
        #[arg(long, value_parser = parse_key_role)]
        role: Role,
        /// RFC 3339 moment after which the key is refused, e.g. 2027-01-01T00:00:00+07:00;
        /// default one year from now.
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// What the key may read (repeat for more): dashboards (the default),
        /// officials:read, reports:read, follow-ups:read, audit:read, metrics.
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<crate::auth::api_key::Scope>,
    },
    /// List keys (metadata only).
    List,
    /// Revoke a key at once.
    Revoke { id: uuid::Uuid },
}

fn parse_key_role(s: &str) -> Result<Role, String> {
    match Role::parse(s) {
        Some(r @ (Role::Viewer | Role::Supervisor)) => Ok(r),
        _ => Err("viewer or supervisor (keys only read)".to_string()),
    }
}

fn parse_scope(s: &str) -> Result<crate::auth::api_key::Scope, String> {
    crate::auth::api_key::Scope::parse(s)
        .ok_or_else(|| format!("one of {}", crate::auth::api_key::Scope::listed()))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of admin, supervisor, inspector, viewer".to_string())
}

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", crate::openapi::yaml()?);
            Ok(())
        }
        Command::Healthcheck => {
            let config = Config::from_env()?;
            healthcheck(&config.bind)
        }
        Command::Serve => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            startup::prepare_directories(&config)?;
            // Held until the process ends (the kernel lets go of it even after kill -9).
            let _sole_server = startup::claim_sqlite_file(&config)?;
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(config).await?;
                app.run_until_stopped()
                    .await
                    .map_err(|e| format!("server error: {e}"))
            })
        }
        Command::Backup { to, keep, what } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            backup_command(&config, to, keep, what)
        }
        Command::Restore {
            from,
            data_dir,
            force,
        } => {
            let config = match data_dir {
                None => Config::from_env()?,
                Some(dir) => {
                    let dir = dir.to_string_lossy().to_string();
                    Config::from_lookup(|k| {
                        if k == "SIDAK_DATA_DIR" {
                            Some(dir.clone())
                        } else {
                            std::env::var(k).ok().filter(|v| !v.is_empty())
                        }
                    })?
                }
            };
            crate::telemetry::init(config.log_format);
            restore_command(&config, &from, force)
        }
        Command::Evidence { what } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            evidence_command(&config, what)
        }
        Command::Import { what } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let (file, dry_run) = match &what {
                ImportCommand::Officials { file, dry_run }
                | ImportCommand::Opds { file, dry_run } => (file.clone(), *dry_run),
            };
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let mut conn = open_migrated(&config)?;
            let report = match what {
                ImportCommand::Officials { .. } => crate::service::import::import_officials(
                    &mut conn,
                    &bytes,
                    dry_run,
                    None,
                    &Ctx::cli(&config),
                ),
                ImportCommand::Opds { .. } => crate::service::import::import_opds(
                    &mut conn,
                    &bytes,
                    dry_run,
                    None,
                    &Ctx::cli(&config),
                ),
            }
            .map_err(|e| e.to_string())?;
            for e in &report.errors {
                eprintln!("line {}: {}", e.line, e.message);
            }
            for w in &report.warnings {
                eprintln!("line {}: warning: {}", w.line, w.message);
            }
            if report.error_count > report.errors.len() {
                eprintln!(
                    "… and {} more wrong line(s)",
                    report.error_count - report.errors.len()
                );
            }
            println!(
                "{}: {} created, {} updated, {} unchanged{}",
                file.display(),
                report.created,
                report.updated,
                report.unchanged,
                if report.applied {
                    ""
                } else if report.errors.is_empty() {
                    " (dry run: nothing written)"
                } else {
                    " — nothing written"
                }
            );
            if report.errors.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} line(s) are wrong; nothing was imported",
                    report.error_count
                ))
            }
        }
        Command::Audit { what } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let mut conn = open_migrated(&config)?;
            match what {
                AuditCommand::Head => {
                    let (seq, hash) = db::audit::head(&mut conn).map_err(|e| e.to_string())?;
                    println!("{seq}:{hash}");
                    Ok(())
                }
                AuditCommand::Verify { head } => {
                    let anchor = match &head {
                        None => None,
                        Some(h) => {
                            let (seq, hash) = h.split_once(':').ok_or("--head must be SEQ:HASH")?;
                            Some((
                                seq.parse::<i64>()
                                    .map_err(|_| "--head: SEQ is not a number")?,
                                hash.to_string(),
                            ))
                        }
                    };
                    let v = db::audit::verify(
                        &mut conn,
                        anchor.as_ref().map(|(s, h)| (*s, h.as_str())),
                    )
                    .map_err(|e| e.to_string())?;
                    println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
                    if v.ok {
                        Ok(())
                    } else {
                        Err(format!(
                            "the audit chain is broken at seq {}",
                            v.first_bad_id.unwrap_or(0)
                        ))
                    }
                }
            }
        }
        Command::Rollups {
            what: RollupsCommand::Rebuild,
        } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let mut conn = open_migrated(&config)?;
            let ctx = Ctx::cli(&config);
            let n = db::write_tx(&mut conn, |c| {
                let n = db::rollups::rebuild(c, ctx.tz())?;
                db::audit::append(
                    c,
                    ctx.audit(
                        None,
                        "rollups.rebuild",
                        "rollups",
                        None,
                        serde_json::json!({ "reports": n }),
                    ),
                )?;
                Ok::<_, diesel::result::Error>(n)
            })
            .map_err(|e| format!("rebuilding rollups failed: {e}"))?;
            println!("rollups rebuilt from {n} submitted report(s)");
            Ok(())
        }
        Command::Rollups {
            what: RollupsCommand::Check,
        } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let mut conn = open_migrated(&config)?;
            let found = db::rollups::check(&mut conn, config.timezone)
                .map_err(|e| format!("checking rollups failed: {e}"))?;
            if found.is_empty() {
                println!("rollups equal a rebuild from the stored reports");
                Ok(())
            } else {
                for line in &found {
                    println!("{line}");
                }
                Err("the rollups differ from a rebuild from the stored reports".into())
            }
        }
        Command::DemoData {
            opds,
            officials,
            inspections,
            findings,
            seed,
        } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            if opds == 0 {
                return Err("--opds must be at least 1".into());
            }
            let mut conn = open_migrated(&config)?;
            let started = std::time::Instant::now();
            let size = crate::service::demo::DemoSize {
                opds,
                officials,
                inspections,
                findings,
                seed,
            };
            let report = crate::service::demo::generate(&mut conn, size, config.timezone, |m| {
                eprintln!("{m}")
            })
            .map_err(|e| format!("generating demo data failed: {e}"))?;
            println!(
                "demo data: {} OPDs, {} officials, {} reports, {} attendance rows, {} findings in {:.1} s",
                report.opds,
                report.officials,
                report.inspections,
                report.attendance,
                report.findings,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            startup::prepare_directories(&config)?;
            let mut conn = connect(&config)?;
            let applied = db::run_migrations(&mut conn)?;
            eprintln!(
                "{}: {} migration(s) applied",
                config.database_url.redacted(),
                applied.len()
            );
            Ok(())
        }
        Command::ApiKey { command } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let mut conn = open_migrated(&config)?;
            api_key_command(&mut conn, &Ctx::cli(&config), command)
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    role,
                    full_name,
                },
        } => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let password = match std::env::var("SIDAK_USER_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!("Password for {username} (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| format!("cannot read the password: {e}"))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let full_name = full_name.unwrap_or_else(|| username.clone());
            let errors: Vec<String> = [
                rules::validate_username(&username),
                rules::validate_full_name(&full_name),
                rules::validate_password("password", &password, &username),
            ]
            .into_iter()
            .filter_map(Result::err)
            .map(|e| format!("{} {}", e.field, e.message))
            .collect();
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
            let mut conn = open_migrated(&config)?;
            let hash = crate::auth::password::hash_blocking(&password)?;
            let row = crate::service::users::create(
                &mut conn,
                &db::users::NewUser {
                    id: DbUuid(uuid::Uuid::new_v4()),
                    username: &username,
                    full_name: &full_name,
                    role,
                    password_hash: &hash,
                },
                None,
                &Ctx::cli(&config),
                "cli",
            )
            .map_err(|e| e.to_string())?;
            println!(
                "created user {} ({}) with id {}",
                row.username, row.role, row.id
            );
            Ok(())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Reads a setting from the environment (the S3 settings of a backup target).
fn env_setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where a backup goes: `--to`, else `SIDAK_BACKUP_TO`, else `<data>/backups`.
fn backup_target(
    config: &Config,
    to: Option<&str>,
) -> Result<crate::service::backup::BackupTarget, String> {
    let location = match to {
        Some(to) => crate::storage::EvidenceLocation::parse_setting(
            "--to",
            Some(to),
            &config.data_dir.join("backups"),
            &env_setting,
        )?,
        None => config.backup_to.clone(),
    };
    crate::service::backup::BackupTarget::open(&location)
}

fn backup_command(
    config: &Config,
    to: Option<String>,
    keep: Option<usize>,
    what: Option<BackupCommand>,
) -> Result<(), String> {
    use crate::service::backup;
    let staging = config.data_dir.join("backup-staging");
    match what {
        Some(BackupCommand::Verify { snapshot }) => {
            let (target, name) = backup::BackupTarget::for_snapshot(&snapshot, &env_setting)?;
            let m = runtime()?.block_on(backup::verify(&target, &name, &staging))?;
            println!(
                "{snapshot}: ok ({} database of {}, schema {}, {} files, audit chain to seq {})",
                m.database,
                m.created_at,
                m.schema_version,
                m.files.len(),
                m.audit_head.seq
            );
            Ok(())
        }
        Some(BackupCommand::List { to }) => {
            let target = backup_target(config, to.as_deref())?;
            for listed in runtime()?.block_on(target.list())? {
                let state = if listed.sealed { "" } else { "  (unfinished)" };
                println!("{}{state}", target.locate(&listed.name));
            }
            Ok(())
        }
        None => {
            let target = backup_target(config, to.as_deref())?;
            drop(open_migrated(config)?);
            let pool = db::pool::build_pool(
                ConnectionManager::new(config.database_url.clone(), config.sqlite_synchronous),
                1,
            )?;
            let store = crate::storage::EvidenceStore::open(&config.evidence, &config.data_dir)?;
            let holder = format!("command:{}", crate::service::periodic::holder());
            let rt = runtime()?;
            let taken = rt.block_on(async {
                let id = backup::record_start(&pool, None, "command", holder).await?;
                let taken =
                    backup::create(&pool, &config.database_url, &store, &target, &staging).await;
                if let Some(id) = id {
                    backup::record_finish(&pool, id, &taken).await;
                }
                taken
            })?;
            if let Some(keep) = keep {
                let pruned = rt.block_on(target.prune(keep.max(1), &staging))?;
                for name in pruned.snapshots.iter().chain(&pruned.unfinished) {
                    println!("removed {}", target.locate(name));
                }
            }
            let m = &taken.manifest;
            println!(
                "{}: {} reports, {} findings, {} photos, {} bytes, audit chain to seq {}",
                taken.location,
                m.counts.get("inspections").copied().unwrap_or(0),
                m.counts.get("findings").copied().unwrap_or(0),
                m.files.len() - 1,
                taken.bytes,
                m.audit_head.seq
            );
            Ok(())
        }
    }
}

fn restore_command(config: &Config, from: &str, force: bool) -> Result<(), String> {
    startup::prepare_directories(config)?;
    let store = crate::storage::EvidenceStore::open(&config.evidence, &config.data_dir)?;
    let (target, name) = crate::service::backup::BackupTarget::for_snapshot(from, &env_setting)?;
    let restored = runtime()?.block_on(crate::service::backup::restore(
        &target,
        &name,
        &config.data_dir.join("backup-staging"),
        &config.database_url,
        config.sqlite_synchronous,
        &store,
        force,
    ))?;
    let m = &restored.manifest;
    println!(
        "restored {from} ({} database, schema {}): {} reports, {} findings, {} photos into {}; audit chain verified to seq {}",
        m.database,
        m.schema_version,
        m.counts.get("inspections").copied().unwrap_or(0),
        m.counts.get("findings").copied().unwrap_or(0),
        restored.photos,
        config.evidence.describe(),
        m.audit_head.seq
    );
    Ok(())
}

fn evidence_command(config: &Config, what: EvidenceCommand) -> Result<(), String> {
    use crate::service::evidence_store;
    use crate::storage::{EvidenceLocation, EvidenceStore};
    drop(open_migrated(config)?);
    let pool = db::pool::build_pool(
        ConnectionManager::new(config.database_url.clone(), config.sqlite_synchronous),
        1,
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let store = EvidenceStore::open(&config.evidence, &config.data_dir)?;
    match what {
        EvidenceCommand::Migrate { to } => {
            let get = |k: &str| std::env::var(k).ok();
            let target = EvidenceLocation::parse(Some(&to), &config.data_dir, &get)?;
            if target == config.evidence {
                return Err("the target is the store already in use".into());
            }
            let target = EvidenceStore::open(&target, &config.data_dir)?;
            rt.block_on(target.check())?;
            println!(
                "copying photos from {} to {}",
                config.evidence.describe(),
                target.location().describe()
            );
            let report =
                rt.block_on(evidence_store::migrate(&pool, &store, &target, &mut |p| {
                    println!("{p}")
                }))?;
            println!(
                "{} photos: {} copied, {} in the target already, {} failed",
                report.photos,
                report.copied,
                report.present,
                report.failed.len()
            );
            for (sha, why) in &report.failed {
                eprintln!("{sha}: {why}");
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} photos were not copied; fix them and run the migration again",
                    report.failed.len()
                ))
            }
        }
        EvidenceCommand::Gc {
            grace_hours,
            dry_run,
        } => {
            let grace = std::time::Duration::from_secs(grace_hours.saturating_mul(3600));
            let report = rt.block_on(evidence_store::collect(&pool, &store, grace, dry_run))?;
            for sha in &report.removed {
                println!("{} {sha}", if dry_run { "would remove" } else { "removed" });
            }
            println!(
                "{} objects: {} {}, {} unreferenced but younger than {grace_hours} h",
                report.objects,
                report.removed.len(),
                if dry_run { "to remove" } else { "removed" },
                report.young
            );
            Ok(())
        }
    }
}

/// `GET /readyz` on the local server, over plain HTTP/1.0.
fn healthcheck(bind: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let port = bind
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| format!("SIDAK_BIND `{bind}` has no port"))?;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = std::time::Duration::from_secs(4);
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| format!("cannot ask {address}: {e}"))?;
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        println!("ready");
        Ok(())
    } else {
        Err(format!(
            "not ready: {}",
            answer.split("\r\n\r\n").nth(1).unwrap_or(status)
        ))
    }
}

/// One connection to the configured database, migrated.
fn open_migrated(config: &Config) -> Result<db::DbConnection, String> {
    startup::prepare_directories(config)?;
    let mut conn = connect(config)?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

fn connect(config: &Config) -> Result<db::DbConnection, String> {
    ConnectionManager::new(config.database_url.clone(), config.sqlite_synchronous)
        .establish()
        .map_err(|e| {
            format!(
                "cannot open the database {}: {e}",
                config.database_url.redacted()
            )
        })
}

fn api_key_command(
    conn: &mut db::DbConnection,
    ctx: &Ctx,
    command: ApiKeyCommand,
) -> Result<(), String> {
    use crate::service::api_keys as keys;
    let show = |e: crate::error::ApiError| match e {
        crate::error::ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        crate::error::ApiError::NotFound => "no such API key".to_string(),
        other => other.to_string(),
    };
    match command {
        ApiKeyCommand::Create {
            name,
            role,
            expires_at,
            scopes,
        } => {
            let scopes = if scopes.is_empty() {
                vec![crate::auth::api_key::Scope::Dashboards]
            } else {
                scopes
            };
            let (row, secret) = keys::create(
                conn,
                &keys::NewKey {
                    name: &name,
                    role,
                    expires_at: expires_at.map(|e| e.naive_utc()),
                    scopes,
                },
                None,
                ctx,
                "cli",
            )
            .map_err(show)?;
            eprintln!(
                "API key {} ({}, {}) created. Its secret follows; it is shown only now:",
                row.id, row.name, row.role
            );
            println!("{secret}");
            Ok(())
        }
        ApiKeyCommand::List => {
            let rows = db::api_keys::list(conn, None, i64::MAX - 1)
                .map_err(|e| format!("cannot list API keys: {e}"))?;
            println!(
                "id\tname\trole\tscopes\tprefix\tcreated_at\texpires_at\tlast_used_at\trevoked_at"
            );
            let t = |v: Option<chrono::NaiveDateTime>| {
                v.map(|v| v.and_utc().to_rfc3339()).unwrap_or_default()
            };
            for r in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.name,
                    r.role,
                    r.scopes,
                    r.prefix,
                    r.created_at.and_utc().to_rfc3339(),
                    t(r.expires_at),
                    t(r.last_used_at),
                    t(r.revoked_at)
                );
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { id } => {
            let row = keys::revoke(conn, DbUuid(id), None, ctx, "cli").map_err(show)?;
            eprintln!("API key {} ({}) is revoked.", row.id, row.name);
            Ok(())
        }
    }
}
