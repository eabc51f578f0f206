//! The `serde` feature: [`Identity`] and [`BootId`] as their text forms.
//!
//! An identity serializes as its versioned line (its `Display`), never as
//! its fields and never with a live descriptor; it deserializes through the
//! same strict parser as [`FromStr`](std::str::FromStr). Deserializing makes
//! no system call and proves nothing: the result is data, and the one way
//! to act on it is [`PidHandle::restore`](crate::PidHandle::restore), which
//! opens the process and verifies it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::{BootId, Identity};

/// `Serialize` as the type's `Display`, a string; `Deserialize` from a
/// string through `$parse`, whose error message names the text.
macro_rules! serde_as_text {
    ($ty:ty, $expecting:literal, $parse:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                deserializer.deserialize_str(TextVisitor::<$ty> {
                    expecting: $expecting,
                    parse: $parse,
                })
            }
        }
    };
}

// The text form, `pidkit-pid:v1:pid=...`; errors are `Error::Parse`'s
// message.
serde_as_text!(
    Identity,
    "a pidkit identity text (`pidkit-pid:v1:pid=...`)",
    |s| s.parse::<Identity>().map_err(|e| e.to_string())
);

// The canonical lowercase UUID.
serde_as_text!(BootId, "a boot id (a canonical lowercase UUID)", |s| {
    BootId::parse_canonical(s).ok_or_else(|| {
        format!(
            "invalid boot id {}: expected a canonical lowercase UUID",
            crate::error::Abbrev(s)
        )
    })
});

/// A visitor that takes a string and parses it with `parse`.
struct TextVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.parse)(s).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "pidkit-pid:v1:pid=1234:boot=0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90:pidfs=4711";

    #[test]
    fn identity_is_its_text() {
        let id: Identity = TEXT.parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{TEXT}\""));
        assert_eq!(serde_json::from_str::<Identity>(&json).unwrap(), id);
        let boot = id.boot_id().unwrap();
        let json = serde_json::to_string(&boot).unwrap();
        assert_eq!(json, "\"0f3c9a5e-6b1d-4e0a-9a43-2f5b7c1d8e90\"");
        assert_eq!(serde_json::from_str::<BootId>(&json).unwrap(), boot);
    }

    #[test]
    fn errors_name_the_content() {
        let e = serde_json::from_str::<Identity>("\"pidkit-pid:v9:pid=77:gone\"").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("pidkit-pid:v9:pid=77:gone"), "{text}");
        assert!(text.starts_with("invalid process handle text"), "{text}");
        let e = serde_json::from_str::<Identity>("1234").unwrap_err();
        assert!(e.to_string().contains("1234"), "{e}");
        assert!(e.to_string().contains("pidkit identity text"), "{e}");
        let e =
            serde_json::from_str::<BootId>("\"0F3C9A5E-6B1D-4E0A-9A43-2F5B7C1D8E90\"").unwrap_err();
        assert!(e.to_string().contains("0F3C9A5E-6B1D"), "{e}");
    }

    proptest::proptest! {
        /// Arbitrary strings never panic the deserializer; what it accepts
        /// is exactly what the parser accepts, and prints back the same.
        #[test]
        fn arbitrary_strings_never_panic(s in "(?s).{0,200}", tail in "[a-z0-9=:.-]{0,40}") {
            for text in [s.clone(), format!("pidkit-pid:v1:pid={tail}"), format!("{TEXT}{tail}")] {
                let json = serde_json::to_string(&text).unwrap();
                match (serde_json::from_str::<Identity>(&json), text.parse::<Identity>()) {
                    (Ok(id), Ok(parsed)) => {
                        proptest::prop_assert_eq!(id, parsed);
                        proptest::prop_assert_eq!(id.to_string(), text);
                    }
                    (Err(e), Err(_)) => proptest::prop_assert!(!e.to_string().is_empty()),
                    (a, b) => proptest::prop_assert!(false, "{text:?}: {a:?} vs {b:?}"),
                }
                let _ = serde_json::from_str::<BootId>(&json);
            }
        }
    }
}
