//! What the tests of the real binary share: a `tessera serve` process, PostgreSQL test
//! schemas, and reading answers.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes to the stderr handle itself, which the test harness does not capture.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// A running `tessera serve`.
pub struct Server {
    pub name: String,
    child: Child,
    pub base: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts `tessera serve` on a free port with the admin `token` and waits for the
    /// address in its log.
    pub fn start(name: &str, db: &str, token: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db])
            .env("TESSERA_ADMIN_TOKEN", token)
            // These tests spend a few customers' points from many tills at once on
            // purpose; the per-customer limit has tests of its own.
            .env("TESSERA_REDEEM_BURST", "0")
            .env_remove("TESSERA_CONFIG")
            .env_remove("TESSERA_LISTEN")
            .env_remove("TESSERA_DATABASE")
            .env("RUST_LOG", "info,sqlx=error")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tessera binary starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (found, address) = std::sync::mpsc::channel();
        let keep = log.clone();
        // Reads the log to its end so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("address=").nth(1) {
                    let _ = found.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut log = keep.lock().unwrap();
                log.push_back(line);
                if log.len() > 200 {
                    log.pop_front();
                }
            }
        });
        match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => Server {
                name: name.to_string(),
                child,
                base: format!("http://{address}"),
                log,
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                let tail = log.lock().unwrap().iter().cloned().collect::<Vec<_>>();
                panic!(
                    "server {name}: tessera serve --database {db} printed no address within \
                     {START_TIMEOUT:?} (exit: {status:?}); its log:\n{}",
                    tail.join("\n")
                );
            }
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("reap the server");
        assert!(!status.success(), "the server was killed, got {status:?}");
    }

    /// SIGTERM and wait for the clean exit.
    pub fn stop(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", self.name);
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            if Instant::now() > until {
                panic!(
                    "server {} did not stop within 30 s of SIGTERM; its log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_tail(&self) -> String {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The error code of an error body, or the body itself.
pub fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// A body as JSON, or as a JSON string when it is not JSON.
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}

/// `TESSERA_TEST_POSTGRES`, or `None` after a loud skip (a failure with
/// `TESSERA_REQUIRE_POSTGRES=1`).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("TESSERA_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("TESSERA_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("TESSERA_REQUIRE_POSTGRES=1 but TESSERA_TEST_POSTGRES is not set");
            }
            say(&format!(
                "\n!!! SKIPPED {test}: set TESSERA_TEST_POSTGRES=postgres://user@host/db to run it !!!\n"
            ));
            None
        }
    }
}

/// A schema name of this process: `{prefix}_{pid}_{nanos}`.
pub fn schema_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// The database URL the binary uses to work in `schema` (sqlx passes `options` to the
/// server as `-c search_path=...`).
pub fn url_in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Drops the PostgreSQL schema however the test ends.
pub struct TempSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // A runtime of its own: this may run while the test's runtime unwinds.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(tessera_postgres::PostgresStore::drop_schema(&url, &schema)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(Ok(())))) {
            say(&format!(
                "could not drop schema {}: {dropped:?}",
                self.schema
            ));
        }
    }
}
