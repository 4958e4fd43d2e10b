//! Who makes a CRM change: the optional `actor` (a staff member's name) and `source`
//! (the system it came through) every CRM write takes, and the body of writes that
//! take nothing else.

use serde::{Deserialize, Deserializer, Serialize};
use tessera_core::CoreError;
use tessera_store::crm_command::Actor;
use utoipa::ToSchema;

/// The longest staff name accepted as `actor`.
pub const ACTOR_MAX_CHARS: usize = 100;
/// The longest source name.
pub const SOURCE_MAX_CHARS: usize = 32;

/// The body of a CRM write that takes only who makes it (all optional; an empty body
/// is fine).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorBody {
    /// The staff member making the change, as shown in the history.
    #[serde(default)]
    pub actor: Option<String>,
    /// The system the change comes through: `api`, `service_desk`, `web`, `app`,
    /// `pos`, … (lower-case letters, digits and `_`). Its trust decides which value
    /// survives a later merge or import.
    #[serde(default)]
    pub source: Option<String>,
}

/// Checks a source name: 1 to 32 lower-case ASCII letters, digits and `_`, starting
/// with a letter.
pub fn source_in(field: &str, source: &str) -> Result<String, CoreError> {
    let ok = !source.is_empty()
        && source.len() <= SOURCE_MAX_CHARS
        && source.starts_with(|c: char| c.is_ascii_lowercase())
        && source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(source.to_string())
    } else {
        Err(CoreError::invalid(
            field,
            "must be 1 to 32 lower-case letters, digits and '_', starting with a letter, such as \"service_desk\"",
        ))
    }
}

/// The [`Actor`] of a write: `source` defaults to `default_source`; `actor` is trimmed
/// and must not be blank or longer than [`ACTOR_MAX_CHARS`].
pub fn actor_from(
    actor: Option<String>,
    source: Option<String>,
    default_source: &str,
) -> Result<Actor, CoreError> {
    let source = match source {
        Some(source) => source_in("source", &source)?,
        None => default_source.to_string(),
    };
    let actor = match actor {
        None => None,
        Some(name) => {
            let name = name.trim();
            if name.is_empty()
                || name.chars().count() > ACTOR_MAX_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(CoreError::invalid(
                    "actor",
                    "must be a name of 1 to 100 characters without control characters",
                ));
            }
            Some(name.to_string())
        }
    };
    Ok(Actor {
        source,
        actor,
        store_id: None,
        terminal_id: None,
    })
}

impl ActorBody {
    /// The actor, with `default_source` when none is given.
    pub fn into_actor(self, default_source: &str) -> Result<Actor, CoreError> {
        actor_from(self.actor, self.source, default_source)
    }
}

/// Reads a member that may be absent (`None`), `null` (`Some(None)`) or a value, for
/// bodies where `null` clears.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
