//! `tessera keys`: API keys managed offline, on the database directly (for the first
//! keys of a new install, or when no admin key is at hand). Every change is audited
//! as made by the operating-system user who ran it.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use rand::Rng;
use tessera_api::{api_key_from, api_key_out, ApiKeyBody};
use tessera_core::audit::{ActorKind, AuditContent};
use tessera_server::clock::new_id;
use tessera_store::audit::with_pending;

#[derive(Args, Debug)]
pub struct KeysArgs {
    /// Database URL, e.g. sqlite://./tessera.db (a SQLite file while no server has it
    /// open; PostgreSQL at any time: running servers see the change within a second).
    #[arg(
        long,
        env = "TESSERA_DATABASE",
        default_value = "sqlite://./tessera.db",
        global = true
    )]
    database: String,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a key and print it once (as JSON with `id` and `key`).
    Create {
        /// What the key is for, e.g. "Till 4, store msk-1".
        #[arg(long)]
        name: String,
        /// A scope: pos, admin, marketing, service, analytics (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The store of a pos key.
        #[arg(long)]
        store: Option<String>,
        /// RFC 3339 instant the key stops working at.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List every key (never their secrets).
    List,
    /// Revoke a key by its id.
    Revoke { key_id: String },
}

pub async fn run(args: KeysArgs) -> Result<()> {
    let store = crate::open_store(&args.database).await?;
    let outcome = command(store.as_ref(), args.command).await;
    store.close().await;
    outcome
}

fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("tessera keys ({user})")
}

async fn command(store: &dyn tessera_store::Store, command: KeysCommand) -> Result<()> {
    let now = chrono::Utc::now();
    let audit = |action: &str, target: String, before, after| AuditContent {
        at: now,
        actor: actor(),
        actor_kind: ActorKind::System,
        action: action.to_string(),
        target,
        origin: None,
        before,
        after,
    };
    match command {
        KeysCommand::Create {
            name,
            scopes,
            store: store_id,
            expires_at,
        } => {
            let body = ApiKeyBody {
                name,
                scopes,
                store_id,
                expires_at,
            };
            let request = api_key_from(body, now)
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.field.unwrap_or_default()))?;
            if let Some(store_id) = &request.store_id {
                if !store
                    .stores()
                    .await?
                    .iter()
                    .any(|s| s.store_id == *store_id)
                {
                    bail!("no store {store_id:?} is configured");
                }
            }
            let secret: [u8; 20] = rand::rng().random();
            let (key, text) = request.issue(new_id("key", now), secret, now);
            let out = api_key_out(&key, now);
            let entry = audit(
                "api_key.create",
                format!("/v1/api-keys/{}", key.key_id),
                None,
                serde_json::to_value(&out).ok(),
            );
            // The key and its audit entry in one transaction.
            with_pending(entry, store.put_api_key(key.clone()))
                .await
                .0?;
            println!(
                "{}",
                serde_json::json!({"id": key.key_id, "key": text, "scopes": out.scopes, "store_id": out.store_id, "expires_at": out.expires_at})
            );
            eprintln!("the key is shown this once; store it now");
        }
        KeysCommand::List => {
            for key in store.api_keys().await? {
                println!("{}", serde_json::to_string(&api_key_out(&key, now))?);
            }
        }
        KeysCommand::Revoke { key_id } => {
            let current = store
                .api_keys()
                .await?
                .into_iter()
                .find(|k| k.key_id == key_id)
                .with_context(|| format!("no API key {key_id:?}"))?;
            let mut revoked = current.clone();
            revoked.revoked_at = revoked.revoked_at.or(Some(now));
            let entry = audit(
                "api_key.revoke",
                format!("/v1/api-keys/{key_id}"),
                serde_json::to_value(api_key_out(&current, now)).ok(),
                serde_json::to_value(api_key_out(&revoked, now)).ok(),
            );
            let key = with_pending(entry, store.revoke_api_key(&key_id, now))
                .await
                .0?
                .with_context(|| format!("no API key {key_id:?}"))?;
            let out = api_key_out(&key, now);
            println!("{}", serde_json::to_string(&out)?);
        }
    }
    Ok(())
}
