//! Where one-time codes go: a customer's phone, through a pluggable sender. Until the
//! channels land, [`LogSender`] writes each message to the server log; tests use
//! [`MemorySender`].

use std::sync::Mutex;

/// Sends a short text message to a phone (E.164).
pub trait CodeSender: Send + Sync + 'static {
    fn send(&self, phone: &str, text: &str);
}

/// Writes every message to the server log at `info`: for trials and development,
/// where no SMS gateway is configured. The code is in the log, so a production
/// server needs a real sender.
pub struct LogSender;

impl CodeSender for LogSender {
    fn send(&self, phone: &str, text: &str) {
        tracing::info!(%phone, %text, "one-time code message (log sender: no SMS gateway configured)");
    }
}

/// Keeps the messages in memory, for tests.
#[derive(Default)]
pub struct MemorySender(Mutex<Vec<(String, String)>>);

impl MemorySender {
    /// Every `(phone, text)` sent so far.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The six-digit code in the last message to `phone`.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        self.sent()
            .into_iter()
            .rev()
            .find(|(to, _)| to == phone)
            .and_then(|(_, text)| {
                text.split(|c: char| !c.is_ascii_digit())
                    .find(|part| part.len() == 6)
                    .map(str::to_string)
            })
    }
}

impl CodeSender for MemorySender {
    fn send(&self, phone: &str, text: &str) {
        if let Ok(mut messages) = self.0.lock() {
            messages.push((phone.to_string(), text.to_string()));
        }
    }
}

/// A phone number shown as its last four digits only (`***4567`): enough for the
/// customer to recognise, too little to learn the number from.
pub fn masked(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("***{last}")
}
