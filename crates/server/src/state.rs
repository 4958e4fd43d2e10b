//! Shared server state: the store, the configuration snapshot, the clock, the key.

use crate::clock::Clock;
use crate::limiter::Limiter;
use crate::sender::{CodeSender, LogSender};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_core::access::ApiKey;
use tessera_core::rate::Rate;
use tessera_core::snapshot::ConfigSnapshot;
use tessera_store::{Store, StoreResult};

/// How the server is set up.
pub struct ServerOptions {
    /// The bootstrap admin API key; `None` only in insecure development mode, where
    /// any bearer key is accepted.
    pub admin_token: Option<String>,
    /// How often due lots are matured and expired in the background.
    pub catch_up_every: Duration,
    /// The rate limit of each API key (not of the bootstrap token); `None`: none.
    pub key_rate: Option<Rate>,
    /// The rate limit of commits that spend points, per customer as presented; `None`:
    /// none.
    pub redeem_rate: Option<Rate>,
    /// Where one-time codes (sign-in, redemption by SMS) are sent.
    pub sender: Arc<dyn CodeSender>,
}

impl ServerOptions {
    /// The default limits: 100 requests a second per key (a burst of 200), and 5
    /// point-spending commits at once per customer, then one a minute.
    pub fn with_defaults(admin_token: Option<String>, catch_up_every: Duration) -> ServerOptions {
        ServerOptions {
            admin_token,
            catch_up_every,
            key_rate: Some(Rate::per_second(100, 200)),
            redeem_rate: Some(Rate {
                burst: 5,
                interval_ms: 60_000,
            }),
            sender: Arc::new(LogSender),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    config: RwLock<Arc<ConfigSnapshot>>,
    /// The store's configuration version the snapshot was built from.
    config_version: std::sync::atomic::AtomicI64,
    /// Held while the snapshot or the keys are reread: two rereads at once (a change's
    /// own and the poll's) could otherwise finish in the other order and leave the
    /// older one in place, until the next change.
    reloading: tokio::sync::Mutex<()>,
    admin_key_hash: Option<[u8; 32]>,
    catch_up_every: Duration,
    /// The API keys, by id, reloaded with the configuration.
    keys: RwLock<Arc<HashMap<String, ApiKey>>>,
    pub key_limiter: Limiter,
    pub redeem_limiter: Limiter,
    /// Codes sent per phone or customer: 3 at once, then one a minute.
    pub send_limiter: Limiter,
    /// Wrong guesses against names and phones that belong to nobody.
    pub guesses: crate::limiter::GuessThrottle,
    pub sender: Arc<dyn CodeSender>,
    /// Calculations kept for the commits of their receipts.
    pub quotes: crate::quotes::Quotes,
}

impl AppState {
    /// Loads the configuration snapshot from the store.
    pub async fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        options: ServerOptions,
    ) -> StoreResult<Arc<AppState>> {
        let state = AppState {
            store,
            clock,
            config: RwLock::new(Arc::new(ConfigSnapshot::default())),
            config_version: std::sync::atomic::AtomicI64::new(i64::MIN),
            reloading: tokio::sync::Mutex::new(()),
            admin_key_hash: options
                .admin_token
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            catch_up_every: options.catch_up_every,
            keys: RwLock::new(Arc::new(HashMap::new())),
            key_limiter: Limiter::new(options.key_rate),
            redeem_limiter: Limiter::new(options.redeem_rate),
            send_limiter: Limiter::new(Some(Rate {
                burst: 3,
                interval_ms: 60_000,
            })),
            guesses: crate::limiter::GuessThrottle::default(),
            sender: options.sender,
            quotes: Default::default(),
        };
        state.reload_config().await?;
        Ok(Arc::new(state))
    }

    /// The configuration receipts are priced against now.
    pub fn config(&self) -> Arc<ConfigSnapshot> {
        match self.config.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds the snapshot after a configuration change.
    pub async fn reload_config(&self) -> StoreResult<()> {
        let _one_at_a_time = self.reloading.lock().await;
        // Read the version first: a change landing during the reload bumps it again,
        // so the next poll reloads once more rather than missing it.
        let version = self.store.config_version().await?;
        let previous = self
            .config_version
            .swap(version, std::sync::atomic::Ordering::SeqCst);
        let reloaded = self.reload_from_store().await;
        if reloaded.is_err() {
            // Not reloaded after all: the next poll must try again (a key revoked
            // through another process would otherwise keep working here).
            let _ = self.config_version.compare_exchange(
                version,
                previous,
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
            );
        }
        reloaded
    }

    async fn reload_from_store(&self) -> StoreResult<()> {
        let program = self.store.program().await?.unwrap_or_default();
        let stores = self.store.stores().await?;
        let products = self.store.products().await?;
        let promotions = self
            .store
            .promotions()
            .await?
            .into_iter()
            .map(|r| r.promotion)
            .collect();
        let snapshot = Arc::new(ConfigSnapshot::new(program, stores, products, promotions));
        match self.config.write() {
            Ok(mut config) => *config = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        self.reread_keys().await
    }

    /// Rereads the API keys (after a key change, and with every configuration reload:
    /// a key revoked through another process stops working within a poll).
    pub async fn reload_keys(&self) -> StoreResult<()> {
        let _one_at_a_time = self.reloading.lock().await;
        self.reread_keys().await
    }

    async fn reread_keys(&self) -> StoreResult<()> {
        let keys: HashMap<String, ApiKey> = self
            .store
            .api_keys()
            .await?
            .into_iter()
            .map(|k| (k.key_id.clone(), k))
            .collect();
        match self.keys.write() {
            Ok(mut current) => *current = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        Ok(())
    }

    /// The API keys as last read.
    pub fn keys(&self) -> Arc<HashMap<String, ApiKey>> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Compares hashes, so the comparison takes the same time whatever the key.
    pub fn admin_key_matches(&self, presented: &str) -> bool {
        match &self.admin_key_hash {
            None => true,
            Some(expected) => {
                let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
                presented
                    .iter()
                    .zip(expected)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
        }
    }
}

/// How often the configuration version is polled: a change made through another
/// server process is priced with within this time.
pub const CONFIG_POLL: Duration = Duration::from_millis(500);

/// Reloads the configuration when another process changed it.
pub async fn config_poll_loop(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(CONFIG_POLL);
    loop {
        interval.tick().await;
        let seen = state
            .config_version
            .load(std::sync::atomic::Ordering::SeqCst);
        match state.store.config_version().await {
            Ok(version) if version != seen => {
                if let Err(error) = state.reload_config().await {
                    tracing::warn!(%error, "reloading the configuration failed; retrying");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "polling the configuration version failed"),
        }
    }
}

/// Matures and expires due lots in the background, so stored balances follow time
/// even for customers who do not shop (reads compute the state as of their time
/// regardless).
pub async fn catch_up_loop(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(state.catch_up_every);
    loop {
        interval.tick().await;
        loop {
            match state.store.catch_up_due(state.clock.now(), 500).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "background maturation and expiry failed; retrying later");
                    break;
                }
            }
        }
    }
}

/// Re-evaluates, in batches, every customer whose tier record is due now, so that
/// downgrades reach customers who do not shop; returns how many it evaluated. Nothing
/// to do without earned tiers.
pub async fn reevaluate_tiers(state: &AppState) -> StoreResult<u32> {
    let Some(tiers) = state.config().program.tiers.clone() else {
        return Ok(0);
    };
    let mut evaluated = 0u32;
    loop {
        let now = state.clock.now();
        let batch = state
            .store
            .reevaluate_tiers_due(&tiers, now, tessera_store::tiers::DUE_BATCH)
            .await?;
        evaluated = evaluated.saturating_add(batch);
        if batch < tessera_store::tiers::DUE_BATCH {
            return Ok(evaluated);
        }
    }
}

/// The tier job in the background, at the catch-up interval: records fall due at
/// exact instants (`reevaluate_at`), so a downgrade lands within one interval of it.
pub async fn tier_loop(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(state.catch_up_every);
    loop {
        interval.tick().await;
        if let Err(error) = reevaluate_tiers(&state).await {
            tracing::warn!(%error, "background tier re-evaluation failed; retrying later");
        }
    }
}
