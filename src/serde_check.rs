//! Serde support for types whose every deserialised value goes through their `validate()`.
//!
//! A type derives its serde impls with `#[serde(remote = "Self")]` (so the derived code is an
//! inherent `serialize`/`deserialize` pair) and invokes [`checked_serde!`] for the trait impls:
//! serialising is the derived code, deserialising is the derived code then `validate()`, whose
//! error becomes the format's error. One home for the check: constructors, documents and
//! flags all reach the same `validate()`.

/// The `Serialize` and `Deserialize` impls of a `remote = "Self"` type with a `validate()`.
/// With `object`, the document must be a map: serde's derived code otherwise also accepts a
/// sequence of the fields in order, so `[]` would be the all-default value.
macro_rules! checked_serde {
    ($ty:ident) => {
        $crate::serde_check::checked_serde!(@serialize $ty);
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = $ty::deserialize(d)?;
                value.validate().map_err(serde::de::Error::custom)?;
                Ok(value)
            }
        }
    };
    ($ty:ident, object) => {
        $crate::serde_check::checked_serde!(@serialize $ty);
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a {} object", stringify!($ty))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$ty, A::Error> {
                        $ty::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                let value = d.deserialize_map(Object)?;
                value.validate().map_err(serde::de::Error::custom)?;
                Ok(value)
            }
        }
    };
    (@serialize $ty:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, s)
            }
        }
    };
}

pub(crate) use checked_serde;
