//! `resultInfo`: the outcome code of a call or an operation.

use serde::{Deserialize, Deserializer, Serialize};

/// `#microsoft.graph.resultInfo`: `code` (HTTP-like class), `subcode` (detail) and `message`.
///
/// Wire quirks tolerated (reference §5, §11): `code`/`subcode` arrive as numbers *or* numeric strings
/// (`"200"`, `"5001"`), the key is sometimes spelled `subCode`, and some successes carry `code: 0`.
/// A value that is neither a number nor a numeric string is read as absent rather than failing the whole
/// notification. Serialization writes numbers and the documented `subcode` spelling.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.resultInfo",
    rename_all = "camelCase"
)]
pub struct ResultInfo {
    /// Result class: 2xx success, 4xx client error, 5xx server error (0 appears for some successes).
    #[serde(
        default,
        deserialize_with = "lenient_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<i32>,
    /// Detail code, e.g. 5001 "The conversation has ended.", 8537 keep-alive timeout.
    #[serde(
        default,
        alias = "subCode",
        deserialize_with = "lenient_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub subcode: Option<i32>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ResultInfo {
    /// A result with both codes and a message.
    pub fn new(code: i32, subcode: i32, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            subcode: Some(subcode),
            message: Some(message.into()),
        }
    }

    /// True when `code` is 0 or in 200..300 (the docs use both for successful outcomes).
    pub fn is_success(&self) -> bool {
        matches!(self.code, Some(0) | Some(200..=299))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    Float(f64),
    Text(String),
}

fn lenient_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i32>, D::Error> {
    let raw = Option::<NumberOrString>::deserialize(deserializer)?;
    Ok(match raw {
        None => None,
        Some(NumberOrString::Number(n)) => i32::try_from(n).ok(),
        Some(NumberOrString::Float(f)) if f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
            // Checked: integral and within range, so the cast is exact.
            Some(f as i32)
        }
        Some(NumberOrString::Float(_)) => None,
        Some(NumberOrString::Text(text)) => text.trim().parse::<i32>().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_numbers_strings_and_subcode_alias() {
        let a: ResultInfo =
            serde_json::from_str(r#"{"code":400,"subcode":8508,"message":"m"}"#).unwrap();
        let b: ResultInfo =
            serde_json::from_str(r#"{"code":"400","subcode":"8508","message":"m"}"#).unwrap();
        let c: ResultInfo =
            serde_json::from_str(r#"{"code":400,"subCode":8508,"message":"m"}"#).unwrap();
        assert_eq!(a, ResultInfo::new(400, 8508, "m"));
        assert_eq!(a, b);
        assert_eq!(a, c);
        let d: ResultInfo = serde_json::from_str(r#"{"code":"0"}"#).unwrap();
        assert_eq!(d.code, Some(0));
        assert!(d.is_success());
        let e: ResultInfo = serde_json::from_str(r#"{"code":"n/a","subcode":null}"#).unwrap();
        assert_eq!(e.code, None);
        assert_eq!(e.subcode, None);
    }

    #[test]
    fn serializes_numbers_with_odata_type() {
        let json = serde_json::to_string(&ResultInfo::new(200, 5001, "ended")).unwrap();
        assert_eq!(
            json,
            r##"{"@odata.type":"#microsoft.graph.resultInfo","code":200,"subcode":5001,"message":"ended"}"##
        );
    }
}
