//! The receipt writes, written once for every adapter: each runs inside one
//! transaction the adapter opens, reads what it needs through [`LedgerTx`], lets the
//! core decide, and writes the result. Either everything is written or nothing is.
//!
//! Each write makes every decision that can refuse it (conflicts, validation,
//! `quote_changed`, `insufficient_points`) before its first write, so a refused write
//! has written nothing; only a database failure can interrupt one half-way, and the
//! adapter then rolls its transaction back.

use crate::command::{CancelCommand, CommitCommand, Committed, Rendered, ReturnCommand, Returned};
use crate::error::StoreError;
use crate::port::{LedgerTx, NewRewards, PriorCommit, ReceiptVersion, StoreResult};
use crate::{quote, tiers};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use tessera_core::coupon::{self, Coupon, CouponSeries};
use tessera_core::customer::{Card, Customer};
use tessera_core::ledger::{Context, CustomerLedger};
use tessera_core::limits::{Usage, UsageScope};
use tessera_core::money::Money;
use tessera_core::pricing::{
    self, BalanceAfter, Calculation, CouponRejection, CustomerView, PricingContext,
};
use tessera_core::receipt::{CustomerRef, ReceiptRequest};
use tessera_core::refund::{ReceiptRecord, ReceiptStatus};
use tessera_core::reward::{
    Certificate, Grant, GrantKind, Issued, IssuedCertificate, IssuedCoupon, RewardKind,
};
use tessera_core::tier::{TierEvent, TierHistory, TierProgram};
use tessera_core::{CoreError, ErrorCode};

/// Commits a receipt: an identical retry returns the stored response, a different
/// body under the same receipt id is `receipt_conflict`.
pub async fn commit(tx: &mut dyn LedgerTx, command: &CommitCommand) -> StoreResult<Vec<u8>> {
    let request = &command.request;
    match tx
        .prior_commit(&request.receipt_id, &command.request_hash)
        .await?
    {
        PriorCommit::Committed(existing) => {
            let first = existing.versions.into_iter().find(|v| v.version == 1);
            return match first {
                Some(version) if version.request_hash == command.request_hash => {
                    Ok(version.response)
                }
                _ => Err(StoreError::domain(
                    ErrorCode::ReceiptConflict,
                    format!(
                        "receipt {} was already committed with a different body",
                        request.receipt_id
                    ),
                )),
            };
        }
        // A refusal that depends on balances is answered again to a retry of the same
        // body, even if the balance has changed since: the till already told the
        // customer.
        PriorCommit::Refused(error) => return Err(error.into()),
        PriorCommit::Nothing => {}
    }
    let mut ctx = command.config.context(request)?;
    let mut new_member = false;
    let mut view = None;
    let mut grant = None;
    let mut ledger = match &request.customer {
        None => None,
        Some(reference) => match tx.find_ledger(reference).await? {
            Some((mut ledger, mut facts)) => {
                ledger.catch_up(command.now);
                if let Some(complete) = command.profile_complete {
                    facts.profile_complete = complete;
                }
                grant = facts.tier.clone();
                view = Some(CustomerView::known(
                    &ledger.customer_id,
                    ledger.available,
                    ledger.pending,
                    &facts,
                    request.at.with_timezone(&Utc),
                ));
                Some(ledger)
            }
            None => match reference {
                CustomerRef::Card(card) => {
                    new_member = true;
                    view = Some(CustomerView::new_card(&command.new_customer_id, card));
                    Some(CustomerLedger::new(
                        command.new_customer_id.clone(),
                        0,
                        0,
                        Vec::new(),
                    ))
                }
                other => return Err(customer_not_found(other).into()),
            },
        },
    };
    let customer_id = ledger.as_ref().map(|l| l.customer_id.clone());
    let at = request.at.with_timezone(&Utc);
    // Earned tiers: the history is read after the customer's lock, once; a new
    // member has none and holds the lowest level.
    let tiers = command.config.program.tiers.as_ref();
    let mut tier_history = None;
    if let (Some(tiers), Some(customer_id), Some(view)) = (tiers, &customer_id, view.as_mut()) {
        let (history, tier) = if new_member {
            let history = TierHistory::default();
            let tier = history.priced_tier(tiers, None, at);
            (history, tier)
        } else {
            tiers::priced(tx, tiers, customer_id, grant.as_ref(), at).await?
        };
        view.tier = Some(tier);
        tier_history = Some(history);
    }
    // Read after the customer (whose row an adapter may lock first), like a return.
    let found_coupons = load_vouchers(&mut ctx, request, &mut TxReads(&mut *tx)).await?;
    let scope = usage_scope(&ctx, request, customer_id.as_deref());
    let reused = match command
        .quote
        .take()
        .filter(|q| q.fits(&command.config, request, view.as_ref(), &ctx))
    {
        Some(quote) => quote::replay(quote, &mut ctx, &mut TxReads(&mut *tx)).await?,
        None => None,
    };
    let mut pieces = Vec::new();
    let quoted = reused.is_some();
    let calculated = match reused {
        Some(replayed) => {
            pieces = replayed.pieces;
            Ok(replayed.calculation)
        }
        None => {
            calculate_within_limits(
                &mut ctx,
                request,
                view.as_ref(),
                &scope,
                &mut TxReads(&mut *tx),
            )
            .await
        }
    };
    let mut calculation = match calculated {
        Err(StoreError::Domain(error)) if REMEMBERED_REFUSALS.contains(&error.code) => {
            tx.record_refusal(
                &request.receipt_id,
                &command.request_hash,
                &error,
                command.now,
            )
            .await?;
            return Err(error.into());
        }
        other => other?,
    };
    let usage = tessera_core::limits::deltas(&calculation, &ctx.promotions, &scope);
    if let Some(expected) = command.expect_to_pay {
        if expected != calculation.totals.to_pay {
            return Err(StoreError::QuoteChanged(Box::new(calculation)));
        }
    }
    let coupons_used = single_use_applied(&calculation, &found_coupons);
    let mut redeemed_from = Vec::new();
    let mut earn_lot_id = None;
    let earned_at = request.at.with_timezone(&Utc);
    let (new_rewards, mut issued) = make_rewards(command, &calculation, customer_id.as_deref());
    if let (Some(ledger), Some(customer_id)) = (ledger.as_mut(), &customer_id) {
        let context = Context {
            receipt_id: Some(&request.receipt_id),
            op_id: None,
            now: command.now,
        };
        redeemed_from = ledger.redeem(calculation.points_redeemed, &context)?;
        // Every refusal comes before the first write (see the module doc), so the
        // writer needs no savepoint to undo a refused commit.
        if new_member {
            let card = match &request.customer {
                Some(CustomerRef::Card(card)) => vec![Card::from(card.as_str())],
                _ => Vec::new(),
            };
            tx.insert_customer(&Customer {
                customer_id: customer_id.clone(),
                name: None,
                phone: None,
                email: None,
                cards: card,
                created_at: command.now,
            })
            .await?;
        }
        if calculation.points_earned > 0 {
            let lot_id = format!("{}:earn", request.receipt_id);
            ledger.earn(
                lot_id.clone(),
                calculation.points_earned,
                earned_at,
                ctx.program,
                &context,
            );
            earn_lot_id = Some(lot_id);
        }
        for (idx, reward) in calculation.rewards.iter().enumerate() {
            if let RewardKind::BonusPoints {
                points,
                expires_in_days,
            } = reward.kind
            {
                let lot_id = format!("{}:bonus:{idx}", request.receipt_id);
                ledger.earn_expiring(
                    lot_id.clone(),
                    points,
                    earned_at,
                    ctx.program,
                    expires_in_days,
                    &context,
                );
                issued.bonus_lots.push((lot_id, points));
            }
        }
        ledger.catch_up(command.now);
        calculation.balance = Some(BalanceAfter {
            available: ledger.available,
            pending: ledger.pending,
        });
    }
    let record = ReceiptRecord {
        receipt_id: request.receipt_id.clone(),
        store_id: request.store_id.clone(),
        terminal_id: request.terminal_id.clone(),
        at: request.at,
        customer_id,
        returned_qty: vec![0; calculation.lines.len()],
        calculation,
        status: ReceiptStatus::Committed,
        version: 1,
        earn_lot_id,
        redeemed_from,
        usage,
        coupons_used,
        issued,
    };
    // The record is moved in and out rather than cloned: it holds every priced line.
    let committed = Committed {
        record,
        new_member,
        pieces,
    };
    let Rendered {
        bytes: response,
        pieces,
    } = (command.render)(&committed);
    let record = committed.record;
    if let Some(ledger) = ledger {
        tx.save_ledger(&ledger.into_changes()).await?;
    }
    if let (Some(tiers), Some(history), Some(customer_id)) =
        (tiers, tier_history, &record.customer_id)
    {
        let event = TierEvent {
            at,
            spend: record.calculation.totals.to_pay,
            points_earned: record.calculation.points_earned,
        };
        tiers::record(tx, tiers, customer_id, history, event, command.now).await?;
    }
    let version = ReceiptVersion {
        receipt_id: record.receipt_id.clone(),
        version: 1,
        kind: "commit".to_string(),
        op_id: format!("commit/{}", record.receipt_id),
        request_hash: command.request_hash.clone(),
        response: response.clone(),
        pieces,
        quoted,
        terminal_id: Some(record.terminal_id.clone()),
        at: record.at,
        recorded_at: command.now,
    };
    tx.add_usage(&record.usage, 1).await?;
    if !record.coupons_used.is_empty() {
        tx.set_coupon_use(&record.coupons_used, Some(&record.receipt_id))
            .await?;
    }
    let spent: Vec<(String, Money)> = record
        .calculation
        .certificates
        .iter()
        .map(|c| (c.code.clone(), -c.amount))
        .collect();
    if !spent.is_empty() {
        tx.move_certificates(&spent).await?;
    }
    if !new_rewards.is_empty() {
        tx.insert_rewards(&new_rewards).await?;
    }
    tx.insert_receipt(&record, &version).await?;
    Ok(response)
}

/// Refusals of a commit that depend on balances that change over time; each is
/// remembered so that a retry of the same receipt and body gets it again.
pub const REMEMBERED_REFUSALS: [ErrorCode; 2] = [
    ErrorCode::InsufficientPoints,
    ErrorCode::CertificateInsufficient,
];

/// Looks up the receipt's coupon codes and certificates and records in the pricing
/// context what the store found: the series each valid code unlocks, why the others
/// are refused, and what each certificate can pay. Returns the codes found (by
/// normalised code) for the commit to mark single-use ones used.
pub async fn load_vouchers(
    ctx: &mut PricingContext<'_>,
    request: &ReceiptRequest,
    source: &mut dyn Reads,
) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
    let at = request.at.with_timezone(&Utc);
    let wanted: Vec<String> = request
        .coupons
        .iter()
        .map(|c| coupon::normalize_code(c))
        .filter(|c| coupon::well_formed(c))
        .collect();
    let found = if wanted.is_empty() {
        HashMap::new()
    } else {
        source.coupons(&wanted).await?
    };
    let local = request.at.with_timezone(&ctx.tz).naive_local();
    for code in &request.coupons {
        if let Some((coupon, series)) = found.get(&coupon::normalize_code(code)) {
            match coupon::judge(coupon, series, at, local, &request.receipt_id) {
                Ok(()) => {
                    ctx.coupon_series
                        .insert(code.clone(), series.series_id.clone());
                }
                Err(rejection) => {
                    ctx.coupon_rejections.insert(
                        code.clone(),
                        CouponRejection {
                            reason: rejection.as_str().to_string(),
                            series: series.series_id.clone(),
                        },
                    );
                }
            }
        }
    }
    if !request.certificates.is_empty() {
        let codes: Vec<String> = request
            .certificates
            .iter()
            .map(|c| c.code.clone())
            .collect();
        for (code, certificate) in source.certificates(&codes).await? {
            ctx.certificates
                .insert(code, certificate.spendable(at).map_err(str::to_string));
        }
    }
    Ok(found)
}

/// The single-use codes (normalised) the calculation applied.
fn single_use_applied(
    calculation: &Calculation,
    found: &HashMap<String, (Coupon, CouponSeries)>,
) -> Vec<String> {
    calculation
        .coupons
        .iter()
        .filter(|c| c.status == "applied")
        .map(|c| coupon::normalize_code(&c.code))
        .filter(|code| found.get(code).is_some_and(|(_, series)| series.single_use))
        .collect()
}

/// Makes the codes, certificates and grants of the calculation's rewards (bonus
/// points are lots, made with the ledger). Validity runs from the receipt's `at`.
fn make_rewards(
    command: &CommitCommand,
    calculation: &Calculation,
    customer_id: Option<&str>,
) -> (NewRewards, Issued) {
    let request = &command.request;
    let at = request.at.with_timezone(&Utc);
    let until = |days: Option<u32>| days.map(|d| at + Duration::days(d as i64));
    let mut rewards = NewRewards::default();
    let mut issued = Issued::default();
    for reward in &calculation.rewards {
        let grant = |kind: GrantKind, value: &str, until: Option<DateTime<Utc>>| {
            customer_id.map(|customer_id| Grant {
                customer_id: customer_id.to_string(),
                kind,
                value: value.to_string(),
                promotion_id: Some(reward.promotion_id.clone()),
                receipt_id: Some(request.receipt_id.clone()),
                granted_at: at,
                until,
                revoked: false,
            })
        };
        match &reward.kind {
            RewardKind::BonusPoints { .. } => {}
            RewardKind::Coupon { series, valid_days } => {
                let shown = (command.new_code)();
                rewards.coupons.push(Coupon {
                    code: coupon::normalize_code(&shown),
                    series_id: series.clone(),
                    customer_id: customer_id.map(str::to_string),
                    issued_by: Some(request.receipt_id.clone()),
                    valid_until: until(*valid_days),
                    used_by: None,
                    revoked: false,
                });
                issued.coupons.push(IssuedCoupon {
                    promotion_id: reward.promotion_id.clone(),
                    code: shown,
                    series_id: series.clone(),
                    valid_until: until(*valid_days),
                });
            }
            RewardKind::Certificate { amount, valid_days } => {
                let shown = (command.new_code)();
                rewards.certificates.push(Certificate {
                    code: coupon::normalize_code(&shown),
                    amount: *amount,
                    balance: *amount,
                    customer_id: customer_id.map(str::to_string),
                    issued_by: Some(request.receipt_id.clone()),
                    valid_until: until(*valid_days),
                    revoked: false,
                });
                issued.certificates.push(IssuedCertificate {
                    promotion_id: reward.promotion_id.clone(),
                    code: shown,
                    amount: *amount,
                    valid_until: until(*valid_days),
                });
            }
            RewardKind::Tier { tier, days } => {
                rewards
                    .grants
                    .extend(grant(GrantKind::Tier, tier, until(*days)));
            }
            RewardKind::Entitlement { entitlement } => {
                rewards
                    .grants
                    .extend(grant(GrantKind::Entitlement, entitlement, None));
            }
        }
    }
    (rewards, issued)
}

/// Returns units of a committed receipt, idempotent by return id.
pub async fn return_receipt(
    tx: &mut dyn LedgerTx,
    command: &ReturnCommand,
) -> StoreResult<Vec<u8>> {
    // Looked for with the receipt locked (see [`stored_return`]); for an unknown
    // receipt too, so that a return id used before on another receipt is a conflict.
    let mut record = match load_record(tx, &command.receipt_id).await {
        Err(StoreError::Domain(unknown)) if unknown.code == ErrorCode::ReceiptNotFound => {
            return stored_return(tx, command)
                .await?
                .ok_or(StoreError::Domain(unknown));
        }
        other => other?,
    };
    if let Some(stored) = stored_return(tx, command).await? {
        return Ok(stored);
    }
    let refunded_before = Refunded::of(&record);
    let outcome = record.apply_return(&command.lines)?;
    let returned = Returned {
        return_id: Some(command.return_id.clone()),
        record,
        outcome,
        at: command.at,
        balance: None,
    };
    reverse_points(
        tx,
        returned,
        refunded_before,
        &command.return_id,
        "return",
        &command.request_hash,
        command.terminal_id.clone(),
        command.now,
        &command.render,
        command.tiers.as_ref(),
    )
    .await
}

/// Cancels a committed receipt; a second cancel returns the first one's response.
pub async fn cancel_receipt(
    tx: &mut dyn LedgerTx,
    command: &CancelCommand,
) -> StoreResult<Vec<u8>> {
    let op_id = format!("cancel/{}", command.receipt_id);
    let mut record = load_record(tx, &command.receipt_id).await?;
    // Looked for with the receipt locked (see [`stored_return`]).
    if let Some((_, _, response)) = tx.operation(&op_id).await? {
        return Ok(response);
    }
    let refunded_before = Refunded::of(&record);
    let outcome = record.apply_cancel()?;
    let returned = Returned {
        return_id: None,
        record,
        outcome,
        at: command.at,
        balance: None,
    };
    reverse_points(
        tx,
        returned,
        refunded_before,
        &op_id,
        "cancel",
        "",
        command.terminal_id.clone(),
        command.now,
        &command.render,
        command.tiers.as_ref(),
    )
    .await
}

/// Where a calculation reads promotion limit counters, coupon codes and certificates.
#[async_trait::async_trait]
pub trait Reads: Send {
    async fn usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>>;
    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>>;
    async fn certificates(&mut self, codes: &[String])
        -> StoreResult<HashMap<String, Certificate>>;
}

/// The rows as the write transaction sees them (authoritative at commit).
pub struct TxReads<'a>(pub &'a mut dyn LedgerTx);

#[async_trait::async_trait]
impl Reads for TxReads<'_> {
    async fn usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>> {
        self.0.promotion_usage(keys).await
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        self.0.coupons(codes).await
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        self.0.certificates(codes).await
    }
}

/// The rows as a reader sees them (for a calculation; the commit checks again).
pub struct StoreReads<'a>(pub &'a dyn crate::port::Store);

#[async_trait::async_trait]
impl Reads for StoreReads<'_> {
    async fn usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>> {
        self.0.promotion_usage(keys).await
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        self.0.coupons(codes).await
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        self.0.certificates(codes).await
    }
}

/// Where a receipt counts for promotion limits.
pub fn usage_scope<'a>(
    ctx: &PricingContext<'_>,
    request: &'a ReceiptRequest,
    customer_id: Option<&'a str>,
) -> UsageScope<'a> {
    UsageScope {
        store_id: &request.store_id,
        customer_id,
        local_date: request.at.with_timezone(&ctx.tz).date_naive(),
    }
}

/// Prices a receipt, leaving out the promotions that would exceed a limit or budget
/// given the counters `read` returns (inside the commit's transaction, the
/// authoritative ones). Each round leaves out at least one more promotion, so it ends.
pub async fn calculate_within_limits(
    ctx: &mut PricingContext<'_>,
    request: &ReceiptRequest,
    view: Option<&CustomerView>,
    scope: &UsageScope<'_>,
    source: &mut dyn Reads,
) -> StoreResult<Calculation> {
    loop {
        let calculation = pricing::calculate(ctx, request, view)?;
        let keys = tessera_core::limits::keys_to_read(&calculation, &ctx.promotions, scope);
        if keys.is_empty() {
            return Ok(calculation);
        }
        let usage = source.usage(&keys).await?;
        let exceeded = tessera_core::limits::exceeded(&calculation, &ctx.promotions, scope, &usage);
        if exceeded.is_empty() {
            return Ok(calculation);
        }
        ctx.exhausted.extend(exceeded);
    }
}

/// The stored answer of this return, if it was made; a conflict if its id was used for
/// another body.
///
/// A return or cancel looks for its stored answer only once it holds the receipt's
/// lock. On PostgreSQL a look before the lock can miss an attempt whose transaction
/// still holds it: a server killed while committing leaves that to the database, and
/// the till's retry reaches another server at once. The retry waits for the lock and
/// would then judge a receipt that the first attempt had already returned or
/// cancelled (`receipt_cancelled`, say, instead of the stored answer). A statement
/// after the lock sees that commit.
async fn stored_return(
    tx: &mut dyn LedgerTx,
    command: &ReturnCommand,
) -> StoreResult<Option<Vec<u8>>> {
    match tx.operation(&command.return_id).await? {
        Some((receipt_id, hash, response))
            if receipt_id == command.receipt_id && hash == command.request_hash =>
        {
            Ok(Some(response))
        }
        Some(_) => Err(StoreError::domain(
            ErrorCode::ReturnConflict,
            format!(
                "return {} was already made with a different body",
                command.return_id
            ),
        )),
        None => Ok(None),
    }
}

async fn load_record(tx: &mut dyn LedgerTx, receipt_id: &str) -> StoreResult<ReceiptRecord> {
    match tx.receipt(receipt_id).await? {
        Some(stored) => Ok(stored.record),
        None => Err(StoreError::domain(
            ErrorCode::ReceiptNotFound,
            format!("no receipt {receipt_id:?} was committed"),
        )),
    }
}

/// What earlier returns of a receipt gave back, and whether they undid it whole.
struct Refunded {
    points: i64,
    certificates: Money,
    undone: bool,
}

impl Refunded {
    fn of(record: &ReceiptRecord) -> Self {
        Refunded {
            points: record.points_refunded_so_far(),
            certificates: record.certificate_refunded_so_far(),
            undone: record.undone(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn reverse_points(
    tx: &mut dyn LedgerTx,
    mut returned: Returned,
    refunded_before: Refunded,
    op_id: &str,
    kind: &str,
    request_hash: &str,
    terminal_id: Option<String>,
    now: DateTime<Utc>,
    render: &crate::command::Renderer<Returned>,
    tiers: Option<&TierProgram>,
) -> StoreResult<Vec<u8>> {
    let record = &returned.record;
    // The receipt is undone whole by this operation: its limit uses, coupon uses and
    // receipt-level rewards are released now, once.
    let undone_now = record.undone() && !refunded_before.undone;
    let mut changes = None;
    let mut tier_history = None;
    if let Some(customer_id) = &record.customer_id {
        let mut lots: Vec<String> = record
            .redeemed_from
            .iter()
            .map(|(lot, _)| lot.clone())
            .collect();
        lots.extend(record.earn_lot_id.iter().cloned());
        lots.extend(record.issued.bonus_lots.iter().map(|(lot, _)| lot.clone()));
        let owner = tx.ledger_owner(customer_id).await?;
        let mut ledger = tx.load_ledger(&owner, &lots).await?;
        if let Some(tiers) = tiers {
            let history = tx.tier_history(&owner, tiers.window_days).await?;
            tier_history = Some((tiers, owner.clone(), history));
        }
        ledger.catch_up(now);
        let context = Context {
            receipt_id: Some(&record.receipt_id),
            op_id: Some(op_id),
            now,
        };
        ledger.refund_redemption(
            returned.outcome.points_refunded,
            &record.redeemed_from,
            refunded_before.points,
            &context,
        );
        ledger.reverse_earn(
            returned.outcome.points_reversed,
            record.earn_lot_id.as_deref(),
            &context,
        );
        if undone_now {
            for (lot_id, points) in &record.issued.bonus_lots {
                ledger.reverse_earn(*points, Some(lot_id), &context);
            }
        }
        returned.balance = Some(ledger.balance_at(now));
        changes = Some(ledger.into_changes());
    }
    // A cancel, or a return of everything, releases the promotion uses and budgets the
    // receipt counted.
    let released = match returned.record.status {
        ReceiptStatus::Cancelled | ReceiptStatus::Returned => {
            std::mem::take(&mut returned.record.usage)
        }
        _ => Vec::new(),
    };
    let certificate_refunds = tessera_core::certificate::refund_split(
        &returned.record.calculation.certificates,
        returned.outcome.certificate_refund,
        refunded_before.certificates,
    );
    let response = render(&returned);
    if let Some(changes) = changes {
        tx.save_ledger(&changes).await?;
    }
    if let Some((tiers, owner, history)) = tier_history {
        // A return or cancel is a negative event at its own time.
        let event = TierEvent {
            at: returned.at.with_timezone(&Utc),
            spend: -returned.outcome.refund_money,
            points_earned: -returned.outcome.points_reversed,
        };
        tiers::record(tx, tiers, &owner, history, event, now).await?;
    }
    if !released.is_empty() {
        tx.add_usage(&released, -1).await?;
    }
    if !certificate_refunds.is_empty() {
        tx.move_certificates(&certificate_refunds).await?;
    }
    if undone_now {
        if !returned.record.coupons_used.is_empty() {
            tx.set_coupon_use(&returned.record.coupons_used, None)
                .await?;
        }
        tx.revoke_rewards(&returned.record.receipt_id).await?;
    }
    let version = ReceiptVersion {
        receipt_id: returned.record.receipt_id.clone(),
        version: returned.record.version,
        kind: kind.to_string(),
        op_id: op_id.to_string(),
        request_hash: request_hash.to_string(),
        response: response.clone(),
        pieces: Vec::new(),
        quoted: false,
        terminal_id,
        at: returned.at,
        recorded_at: now,
    };
    tx.update_receipt(&returned.record, &version).await?;
    Ok(response)
}

fn customer_not_found(reference: &CustomerRef) -> CoreError {
    CoreError::field(
        ErrorCode::UnknownCustomer,
        reference.field(),
        "no customer has this identifier",
    )
}
