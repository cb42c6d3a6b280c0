//! Notification batches on their way to the bot: the queued [`Outgoing`] batch and its wire JSON
//! with the [`Quirks`] applied.
//!
//! Kept apart from [`delivery`](crate::delivery) so the world ([`state`](crate::state)) can queue
//! batches without depending on the delivery tasks, and the delivery tasks can post them without
//! depending on the world.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use mediabot_signaling::models::{CallChainId, CallId, CommsNotifications, TenantId};

use crate::faults::Quirks;

/// One notification batch waiting in a call's outbox.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) call_id: CallId,
    pub(crate) callback_uri: String,
    pub(crate) tenant_id: TenantId,
    pub(crate) chain_id: CallChainId,
    pub(crate) scenario_id: Uuid,
    pub(crate) notifications: CommsNotifications,
    pub(crate) body: String,
    pub(crate) delay: Option<Duration>,
    pub(crate) duplicate: bool,
    pub(crate) reorder: bool,
    pub(crate) forged: bool,
}

/// The wire JSON of a notification batch, with the quirks applied.
pub(crate) fn wire_body(notifications: &CommsNotifications, quirks: Quirks) -> String {
    let mut value = match serde_json::to_value(notifications) {
        Ok(value) => value,
        // The models serialize infallibly (no maps with non-string keys); keep an empty batch if not.
        Err(_) => {
            return r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[]}"##
                .to_owned();
        }
    };
    if let Some(items) = value.get_mut("value").and_then(Value::as_array_mut) {
        for item in items {
            apply_item_quirks(item, quirks);
        }
    }
    apply_value_quirks(&mut value, quirks);
    value.to_string()
}

fn apply_item_quirks(item: &mut Value, quirks: Quirks) {
    let Some(object) = item.as_object_mut() else {
        return;
    };
    let url = object
        .get("resourceUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(url) = url {
        if quirks.legacy_resource || quirks.legacy_resource_only {
            let legacy = url.replacen("/communications/calls/", "/app/calls/", 1);
            object.insert("resource".to_owned(), Value::String(legacy));
        }
        if quirks.legacy_resource_only {
            object.remove("resourceUrl");
        } else if quirks.resource_url_without_leading_slash {
            object.insert(
                "resourceUrl".to_owned(),
                Value::String(url.trim_start_matches('/').to_owned()),
            );
        }
    }
}

/// Quirks inside any JSON value (notification bodies and REST responses): result codes and
/// operation status spelling.
pub(crate) fn apply_value_quirks(value: &mut Value, quirks: Quirks) {
    match value {
        Value::Object(object) => {
            if quirks.running_capitalized
                && object.get("status").and_then(Value::as_str) == Some("running")
                && object
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("Operation"))
            {
                object.insert("status".to_owned(), Value::String("Running".to_owned()));
            }
            if let Some(result) = object.get_mut("resultInfo").and_then(Value::as_object_mut) {
                if quirks.string_codes {
                    for key in ["code", "subcode"] {
                        if let Some(number) = result.get(key).and_then(Value::as_i64) {
                            result.insert(key.to_owned(), Value::String(number.to_string()));
                        }
                    }
                }
                if quirks.sub_code_key
                    && let Some(subcode) = result.remove("subcode")
                {
                    result.insert("subCode".to_owned(), subcode);
                }
            }
            for child in object.values_mut() {
                apply_value_quirks(child, quirks);
            }
        }
        Value::Array(items) => {
            for child in items {
                apply_value_quirks(child, quirks);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_rewrite_codes_status_and_resource_urls() {
        let notifications: CommsNotifications = serde_json::from_str(
            r##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/c1",
              "resourceData":{"@odata.type":"#microsoft.graph.call","state":"terminated",
              "resultInfo":{"code":200,"subcode":5001,"message":"ended"}}},
              {"changeType":"deleted","resourceUrl":"/communications/calls/c1/operations/o1",
              "resourceData":{"@odata.type":"#microsoft.graph.inviteParticipantsOperation","status":"running"}}]}"##,
        )
        .unwrap();
        let plain = wire_body(&notifications, Quirks::default());
        assert!(plain.contains(r#""code":200"#) && plain.contains(r#""subcode":5001"#));
        let quirky = wire_body(
            &notifications,
            Quirks {
                string_codes: true,
                sub_code_key: true,
                running_capitalized: true,
                resource_url_without_leading_slash: true,
                legacy_resource: true,
                ..Quirks::default()
            },
        );
        assert!(quirky.contains(r#""code":"200""#), "{quirky}");
        assert!(quirky.contains(r#""subCode":"5001""#), "{quirky}");
        assert!(quirky.contains(r#""status":"Running""#), "{quirky}");
        assert!(
            quirky.contains(r#""resourceUrl":"communications/calls/c1""#),
            "{quirky}"
        );
        assert!(quirky.contains(r#""resource":"/app/calls/c1""#), "{quirky}");
        // The bot-side models read the quirky form back to the same typed values.
        let reparsed: CommsNotifications = serde_json::from_str(&quirky).unwrap();
        assert_eq!(
            reparsed.value[0].resource_data,
            notifications.value[0].resource_data
        );
        let legacy_only = wire_body(
            &notifications,
            Quirks {
                legacy_resource_only: true,
                ..Quirks::default()
            },
        );
        assert!(!legacy_only.contains("resourceUrl"), "{legacy_only}");
    }
}
