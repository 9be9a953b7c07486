//! The JSON Lines batches of the `dispatch` example, readable with any self-describing serde
//! format: one [`Batch`] per line,
//!
//! ```json
//! {"size": 100, "weights": {"A": 0.8, "B": 1.0, "C": 1.2}}
//! ```
//!
//! `weights` lists every recipient of the batch in order (an id given twice is an error);
//! unknown keys are errors. [`Batch::apply`] configures a dispatcher with the line's
//! recipients (a recipient absent from the line leaves, weight 0 pauses one, new ones join in
//! order) and splits the batch, all or nothing.
//!
//! (The unit test below reads and applies a line, and refuses a repeated recipient.)

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use quotaroute::dispatch::{Dispatcher, Error};

/// One line of the dispatch example's input: a batch size and the recipients' weights, in
/// document order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Line", into = "Line")]
pub struct Batch {
    /// Items to split (0 is valid and changes nothing).
    pub size: u64,
    /// Recipient id → weight, in the line's order.
    pub weights: Vec<(String, f64)>,
}

/// The serialised form of a [`Batch`]. Named `Line` because serde's messages name it
/// (`expected struct Line`), as they did when the example parsed lines itself.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    size: u64,
    #[serde(serialize_with = "write_weights", deserialize_with = "read_weights")]
    weights: Vec<(String, f64)>,
}

impl From<Line> for Batch {
    fn from(l: Line) -> Batch {
        Batch {
            size: l.size,
            weights: l.weights,
        }
    }
}

impl From<Batch> for Line {
    fn from(b: Batch) -> Line {
        Line {
            size: b.size,
            weights: b.weights,
        }
    }
}

impl Batch {
    /// Configures `dispatcher` with the batch's recipients and splits the batch among them;
    /// returns the allocation in the order of [`Dispatcher::ids`].
    ///
    /// # Errors
    /// The recipients refused (an unusable weight, too many recipients, errors that would leave
    /// the supported range) or the batch not split (no active recipient, too large a batch);
    /// `dispatcher` is then left as it was.
    pub fn apply(&self, dispatcher: &mut Dispatcher<String>) -> Result<Vec<u64>, Error> {
        // Work on a copy so that a refused line leaves the dispatcher as it was.
        let mut next = dispatcher.clone();
        next.configure(self.weights.iter().cloned())?;
        let allocation = next.dispatch(self.size)?;
        *dispatcher = next;
        Ok(allocation)
    }
}

fn write_weights<S: Serializer>(weights: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(weights.len()))?;
    for (id, w) in weights {
        map.serialize_entry(id, w)?;
    }
    map.end()
}

fn read_weights<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, f64)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of recipient id → weight")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, f64)> = Vec::new();
            while let Some((id, w)) = map.next_entry::<String, f64>()? {
                if out.iter().any(|(seen, _)| *seen == id) {
                    return Err(de::Error::custom(format!("recipient {id:?} appears twice")));
                }
                out.push((id, w));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module's example: a line configures and splits; a recipient given twice is refused.
    #[test]
    fn a_line_configures_and_splits_and_a_repeated_recipient_is_refused() {
        let mut dispatcher = Dispatcher::new();
        let batch: Batch =
            serde_json::from_str(r#"{"size": 100, "weights": {"A": 0.8, "B": 1.0, "C": 1.2}}"#)
                .unwrap();
        assert_eq!(batch.apply(&mut dispatcher).unwrap(), vec![27, 33, 40]);
        let twice: Result<Batch, _> =
            serde_json::from_str(r#"{"size": 1, "weights": {"A": 1, "A": 2}}"#);
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .starts_with("recipient \"A\" appears twice")
        );
    }
}
