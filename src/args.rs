//! Argument shapes tools share.

/// Deserialize an optional argument that clients may send as a number or a numeric string.
pub mod lenient {
    use serde::{Deserialize, Deserializer};

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            Num(u64),
            Text(String),
        }
        match Option::<N>::deserialize(d)? {
            None => Ok(None),
            Some(N::Num(n)) => Ok(Some(n)),
            Some(N::Text(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}
