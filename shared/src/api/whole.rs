//! Whole numbers in request bodies, as JSON has them.
//!
//! JSON has one number type, and JSON Schema counts `5.0` as the integer 5: a client written in a
//! language whose numbers are floats (JavaScript, or Python after arithmetic) may send a seat
//! count or a number of seconds that way. serde's integers refuse it, so the body's integer
//! fields deserialize through [`optional`]: an integer, or a float with no fractional part within
//! the target's range. `5.5`, `-1` or `1e300` are still refused with a sentence saying so.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// The largest float every integer below converts from exactly (2^53).
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// An optional whole number: absent or `null` is `None`. For `#[serde(default, deserialize_with
/// = "whole::optional")]`.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    deserializer.deserialize_option(Optional(PhantomData))
}

/// A required whole number. For `#[serde(deserialize_with = "whole::required")]`.
pub fn required<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    deserializer.deserialize_any(Whole(PhantomData))
}

struct Optional<T>(PhantomData<T>);

impl<'de, T: TryFrom<u64>> Visitor<'de> for Optional<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        required(deserializer).map(Some)
    }
}

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Whole<T> {
    fn fit<E: de::Error>(value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::custom(format_args!("{value} is too large")))
    }
}

impl<T: TryFrom<u64>> Visitor<'_> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Self::fit(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        let value = u64::try_from(value)
            .map_err(|_| E::custom(format_args!("{value} is negative: expected a whole number")))?;
        Self::fit(value)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        if value.fract() != 0.0 || !(0.0..EXACT_FLOAT_LIMIT).contains(&value) {
            return Err(E::custom(format_args!("{value} is not a whole number")));
        }
        // In range and without a fraction: the conversion is exact.
        Self::fit(value as u64)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::optional")]
        seconds: Option<u64>,
        #[serde(default, deserialize_with = "super::optional")]
        small: Option<u32>,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_and_integral_floats_are_accepted() {
        let body = parse(r#"{"seconds": 98797.0, "small": 7}"#).expect("whole");
        assert_eq!((body.seconds, body.small), (Some(98797), Some(7)));
        let body = parse(r#"{"seconds": 2.5e3, "small": 0.0}"#).expect("whole");
        assert_eq!((body.seconds, body.small), (Some(2500), Some(0)));
    }

    #[test]
    fn absent_and_null_are_none() {
        let body = parse(r#"{"seconds": null}"#).expect("null");
        assert_eq!((body.seconds, body.small), (None, None));
    }

    #[test]
    fn fractions_negatives_and_overflow_are_refused_with_a_reason() {
        let refused = |json: &str, words: &str| {
            let error = parse(json).expect_err("refused");
            assert!(error.contains(words), "{json}: {error}");
        };
        refused(r#"{"seconds": 1.5}"#, "1.5 is not a whole number");
        refused(r#"{"seconds": -3}"#, "-3 is negative");
        refused(r#"{"seconds": -3.0}"#, "not a whole number");
        refused(r#"{"seconds": 1e300}"#, "not a whole number");
        refused(r#"{"small": 4294967296}"#, "4294967296 is too large");
        refused(r#"{"small": 4294967296.0}"#, "too large");
        refused(r#"{"seconds": "5"}"#, "expected a whole number");
        refused(r#"{"seconds": true}"#, "expected a whole number");
    }
}
