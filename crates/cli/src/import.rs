//! `tessera import customers`: loads customers from a CSV or JSON-lines file with
//! normalisation, matching against the existing profiles and deduplication.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use tessera_core::consent::SourceTrust;
use tessera_core::contact::{Country, DateOrder, NormalizeRules};
use tessera_core::import::{read_csv, read_json_lines, RowCleaner};
use tessera_core::matching::MatchRules;
use tessera_store::customer_import::{import_customers, ImportOptions, ImportOutcome};

#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: ImportWhat,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Import customers from a CSV (by header) or JSON-lines file.
    Customers(CustomerArgs),
    /// Write a synthetic, deliberately dirty customer CSV (to try or benchmark the
    /// import).
    Synth(crate::import_synth::SynthArgs),
}

/// The input's format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Args)]
pub struct CustomerArgs {
    /// The file: CSV with a header (`source_id, first_name, middle_name, last_name,
    /// gender, birthday, phone, email, card, city, consent_email, consent_sms,
    /// created_at`; any subset) or JSON lines with the same keys.
    #[arg(long)]
    file: PathBuf,
    /// The system the file comes from (`web`, `crm_old`, `paper`): every value's
    /// provenance and the scope of `source_id`.
    #[arg(long)]
    source: String,
    /// Database URL.
    #[arg(
        long,
        env = "TESSERA_DATABASE",
        default_value = "sqlite://./tessera.db"
    )]
    database: String,
    /// CSV or JSON lines; by default from the file's extension (`.jsonl`, `.ndjson`,
    /// `.json` are JSON lines).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The country of phone numbers written without one (ISO 3166 alpha-2).
    #[arg(long, default_value = "RU")]
    default_country: String,
    /// How `7/3/1985` reads: `dmy` (7 March) or `mdy` (3 July).
    #[arg(long, default_value = "dmy")]
    date_order: String,
    /// The name + birthday score from which a pair goes to the review queue.
    #[arg(long)]
    fuzzy_threshold: Option<f64>,
    /// A phone or email shared by more profiles than this matches nothing.
    #[arg(long)]
    max_profiles_per_value: Option<usize>,
    /// Customers written per transaction. Larger batches write faster (each batch
    /// rewrites the pages of the phone, card and name indexes it touches; 5,000 took
    /// 84 s for a million rows, 50,000 took 50 s), but a server sharing the SQLite
    /// file waits for each batch's transaction (about 2.5 s at 50,000).
    #[arg(long, default_value_t = 50_000)]
    batch_size: usize,
    /// Write the full report (every rejected value with its row) as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Who runs the import, for the history.
    #[arg(long)]
    actor: Option<String>,
}

pub async fn run(args: ImportArgs) -> Result<()> {
    match args.what {
        ImportWhat::Customers(args) => customers(args).await,
        ImportWhat::Synth(args) => crate::import_synth::run(args),
    }
}

/// Reads and normalises a file's rows.
pub fn parse(
    text: &str,
    format: Format,
    rules: NormalizeRules,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<tessera_core::import::ParsedInput> {
    let cleaner = RowCleaner {
        rules,
        today: now.date_naive(),
        now,
    };
    Ok(match format {
        Format::Csv => read_csv(text, &cleaner).map_err(|e| anyhow::anyhow!("{e}"))?,
        Format::Jsonl => read_json_lines(text, &cleaner),
    })
}

fn normalize_rules(country: &str, order: &str) -> Result<NormalizeRules> {
    let Some(default_country) = Country::parse(&country.to_ascii_uppercase()) else {
        bail!(
            "--default-country {country:?} is not supported; one of {}",
            Country::ALL.map(|c| c.as_str()).join(", ")
        );
    };
    let date_order = match order {
        "dmy" => DateOrder::DayMonthYear,
        "mdy" => DateOrder::MonthDayYear,
        other => bail!("--date-order {other:?}: use dmy or mdy"),
    };
    Ok(NormalizeRules {
        default_country,
        date_order,
    })
}

async fn customers(args: CustomerArgs) -> Result<()> {
    let now = chrono::Utc::now();
    let rules = normalize_rules(&args.default_country, &args.date_order)?;
    let mut matching = MatchRules::default();
    if let Some(t) = args.fuzzy_threshold {
        matching.fuzzy_threshold = t;
    }
    if let Some(k) = args.max_profiles_per_value {
        matching.max_profiles_per_value = k;
    }
    matching
        .validate()
        .map_err(|e| anyhow::anyhow!("matching settings: {e}"))?;
    if args.source.trim().is_empty() {
        bail!("--source must name the system the file comes from");
    }
    let format =
        args.format
            .unwrap_or_else(|| match args.file.extension().and_then(|e| e.to_str()) {
                Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
                _ => Format::Csv,
            });
    let started = std::time::Instant::now();
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text", args.file.display()))?;
    let parsed = parse(&text, format, rules, now)?;
    drop(text);
    let parsing = started.elapsed().as_secs_f64();
    eprintln!(
        "read {} rows ({} with refused values) in {parsing:.1} s",
        parsed.n_rows_read,
        parsed.rejections.len()
    );

    let store = crate::open_store(&args.database).await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} customers written {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = ImportOptions {
        source: args.source.trim().to_string(),
        rules: matching,
        trust: SourceTrust::default(),
        batch_size: args.batch_size,
        actor: args.actor,
    };
    let mut new_id = tessera_server::clock::monotonic_ids(now);
    let progress_bar = bar.clone();
    let mut progress = move |done: u64, total: u64| {
        progress_bar.set_length(total);
        progress_bar.set_position(done);
    };
    let outcome = import_customers(
        store.as_ref(),
        &parsed,
        &options,
        now,
        &mut new_id,
        &mut progress,
    )
    .await;
    bar.finish_and_clear();
    store.close().await;
    let outcome = outcome.context("importing")?;
    print_summary(&outcome, parsing, started.elapsed().as_secs_f64());
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&outcome)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    Ok(())
}

fn print_summary(outcome: &ImportOutcome, parsing: f64, total: f64) {
    print!("{}", outcome.report.summary());
    let a = &outcome.applied;
    println!(
        "written: {} created, {} updated, {} merged, {} for review, {} skipped",
        a.created,
        a.updated,
        a.merged,
        a.candidates,
        a.skipped.len()
    );
    for (id, code, message) in a.skipped.iter().take(20) {
        println!("  skipped {id}: {code}: {message}");
    }
    if !outcome.kept_with_holder.is_empty() {
        println!(
            "{} values kept with the customer holding them already",
            outcome.kept_with_holder.len()
        );
    }
    println!(
        "time: {parsing:.1} s reading, {:.1} s loading profiles, {:.1} s matching, {:.1} s writing, {total:.1} s in all",
        outcome.seconds_loading, outcome.seconds_planning, outcome.seconds_writing
    );
}
