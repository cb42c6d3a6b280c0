//! Small serde helpers shared by the Graph models: lenient enums, `null` collections, `@odata.type` names.

use serde::{Deserialize, Deserializer};

/// The `microsoft.graph` type name inside an `@odata.type` value, without the `#microsoft.graph.` prefix.
///
/// Accepts `#microsoft.graph.call`, `microsoft.graph.call` and a bare `call`; the prefix match ignores case.
pub(crate) fn odata_type_name(odata_type: &str) -> &str {
    let trimmed = odata_type.trim().trim_start_matches('#');
    const PREFIX: &str = "microsoft.graph.";
    match trimmed.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &trimmed[PREFIX.len()..],
        _ => trimmed,
    }
}

/// True when `odata_type` names the Graph type `name` (case-insensitive, prefix optional).
pub(crate) fn is_odata_type(odata_type: &str, name: &str) -> bool {
    odata_type_name(odata_type).eq_ignore_ascii_case(name)
}

/// Deserializes a collection that Graph may send as `null`: `null` and a missing key become empty.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Declares a Graph string enum: known camelCase wire values plus `Unknown(String)` for anything else.
///
/// Parsing ignores ASCII case (the docs show `"Running"` next to `"running"`); serialization writes the
/// documented camelCase spelling, or the unknown string verbatim.
macro_rules! graph_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this crate does not know (kept verbatim so it can be logged and sent back).
            Unknown(String),
        }

        impl $name {
            /// The wire spelling of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )*
                    Self::Unknown(other) => other,
                }
            }

            /// Parses a wire value, ignoring ASCII case; unrecognised values become `Unknown`.
            pub fn from_wire(value: &str) -> Self {
                $( if value.eq_ignore_ascii_case($wire) { return Self::$variant; } )*
                Self::Unknown(value.to_owned())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(value))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    };
}

pub(crate) use graph_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_type_prefix_is_optional_and_case_insensitive() {
        assert_eq!(odata_type_name("#microsoft.graph.call"), "call");
        assert_eq!(
            odata_type_name("#Microsoft.Graph.participant"),
            "participant"
        );
        assert_eq!(odata_type_name("microsoft.graph.call"), "call");
        assert_eq!(odata_type_name("call"), "call");
        assert!(is_odata_type(
            "#microsoft.graph.commsOperation",
            "commsoperation"
        ));
        assert!(!is_odata_type("#microsoft.graph.call", "participant"));
    }
}
