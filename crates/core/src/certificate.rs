//! Paying with gift certificates: stored money value, separate from points.
//!
//! Certificates pay after the points, for the money left on the receipt, spread over
//! the lines in proportion to what is left on each (largest remainder), so a return
//! gives each returned unit's certificate share back to the certificates. The money a
//! certificate pays earns no points: a certificate is itself a reward or a prepaid
//! purchase, and points on it would be paid twice.

use crate::error::{CoreError, ErrorCode};
use crate::money::{allocate, Money};
use crate::pricing::{PricedLine, PricingContext};
use crate::receipt::ReceiptRequest;

/// Checks the receipt's certificate payments against what each certificate can pay
/// and sets each line's `certificate_paid`. Lines must have their discounts and
/// points set.
pub fn pay(
    ctx: &PricingContext<'_>,
    receipt: &ReceiptRequest,
    lines: &mut [PricedLine],
) -> Result<(), CoreError> {
    if receipt.certificates.is_empty() {
        return Ok(());
    }
    let mut total: Money = 0;
    for (idx, payment) in receipt.certificates.iter().enumerate() {
        match ctx.certificates.get(&payment.code) {
            None => {
                return Err(CoreError::field(
                    ErrorCode::CertificateInvalid,
                    format!("certificates[{idx}].code"),
                    "no gift certificate has this code",
                ))
            }
            Some(Err(reason)) => {
                return Err(CoreError::field(
                    ErrorCode::CertificateInvalid,
                    format!("certificates[{idx}].code"),
                    format!("the gift certificate is {reason}"),
                ))
            }
            Some(Ok(balance)) if payment.amount > *balance => {
                return Err(CoreError::field(
                    ErrorCode::CertificateInsufficient,
                    format!("certificates[{idx}].amount"),
                    format!(
                        "{} requested but the certificate holds {balance}",
                        payment.amount
                    ),
                ))
            }
            Some(Ok(_)) => total += payment.amount,
        }
    }
    let left: Vec<Money> = lines
        .iter()
        .map(|l| l.amount - l.discount - l.points_paid)
        .collect();
    let payable: Money = left.iter().sum();
    if total > payable {
        return Err(CoreError::field(
            ErrorCode::CertificateExceedsTotal,
            "certificates",
            format!("certificates pay {total} but only {payable} is left to pay"),
        ));
    }
    for (line, share) in lines.iter_mut().zip(allocate(total, &left)) {
        line.certificate_paid = share;
    }
    Ok(())
}

/// Splits `refund` certificate money over the certificates that paid, giving back to
/// the last one first after skipping `already_refunded` that earlier returns gave back.
pub fn refund_split(
    payments: &[crate::reward::CertificatePayment],
    refund: Money,
    already_refunded: Money,
) -> Vec<(String, Money)> {
    let mut skip = already_refunded;
    let mut left = refund;
    let mut split = Vec::new();
    for payment in payments.iter().rev() {
        let skipped = skip.min(payment.amount);
        skip -= skipped;
        let give = (payment.amount - skipped).min(left);
        if give > 0 {
            left -= give;
            split.push((payment.code.clone(), give));
        }
    }
    split
}
