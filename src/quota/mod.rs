//! Nested quota trees and the four Askia quota queries: `available` (`AvailableQuota`),
//! `available_balanced` (`AvailableBalancedQuota`), `list` (`QuotaList`) and `balanced_list`
//! (`BalancedQuotaList`).
//!
//! # The tree
//!
//! A [`QuotaTree`] is built over a [`Schema`](crate::schema::Schema). Its root has no
//! condition; every other node has a [`Condition`] — a question and one response, or a group
//! of responses — and lies below the nodes whose conditions it refines (`Gender = Female` →
//! `Product = A` → `Region = 1`). Each node has a [`Target`] (a single target, a min and a max,
//! or none) and an observed count. Any depth, any width.
//!
//! ```
//! use quotaroute::quota::{Condition, Query, QuotaTree, Target};
//! use quotaroute::schema::{Answers, Schema};
//!
//! let schema = Schema::builder()
//!     .question("Product", ["A", "B", "C"])
//!     .question("Gender", ["Male", "Female"])
//!     .build()?;
//! let product = schema.question("Product")?;
//! let gender = schema.question("Gender")?;
//! let (a, b) = (schema.response(product, "A")?, schema.response(product, "B")?);
//! let (male, female) = (schema.response(gender, "Male")?, schema.response(gender, "Female")?);
//!
//! let mut tree = QuotaTree::builder(schema.clone());
//! tree.set_target(tree.root(), Target::Single(30))?;
//! let node_a = tree.add_child(tree.root(), Condition::response(product, a), Target::Single(8))?;
//! tree.add_child(node_a, Condition::response(gender, male), Target::Single(6))?;
//! tree.add_child(node_a, Condition::response(gender, female), Target::Single(2))?;
//! tree.add_child(tree.root(), Condition::response(product, b), Target::Single(10))?;
//! let mut tree = tree.build();
//!
//! // Count completes: every node an interview matches is incremented, the root included.
//! for (p, g, times) in [(a, male, 6), (b, female, 4)] {
//!     let mut answers = Answers::unknown(&schema);
//!     answers.set(product, p);
//!     answers.set(gender, g);
//!     for _ in 0..times {
//!         tree.record(&answers)?;
//!     }
//! }
//!
//! // Product.AvailableQuota(Gender: Male): A is closed (its Male cell is full), B has
//! // min(30 − 10, 10 − 4) = 6 to do, C has only the root: 20.
//! let query = Query::new(product).given(gender, male);
//! let c = schema.response(product, "C")?;
//! assert_eq!(tree.available(&query, None)?, vec![(c, 20), (b, 6)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Trees also come from names ([`QuotaTree::from_spec`] with a [`NodeSpec`], as configuration
//! files hold them; a bad name is reported with its path, e.g.
//! `tree.children[0].children[1]: unknown response "Mle" for question "Gender"`), and, with the
//! `serde` feature, serialise with their targets and counts. The `quota` example reads a whole
//! document of questions, tree and queries into one.
//!
//! # The queries
//!
//! A [`Query`] names a target question and optionally a context: questions fixed to a response
//! or to a group of responses (Askia's `Product.AvailableQuota(Gender: 2, Region: 3)`). The
//! respondent's [`Answers`](crate::schema::Answers), when given, act as context on every other
//! question. Each query scores every response `r` of the target question:
//!
//! * **Rows that count for `r`**: a row with a target counts when every condition on its path
//!   from the root is satisfied by the context together with (target question = `r`), or is on
//!   a question the context leaves unknown. So the root, ancestors such as `Female`, and rows
//!   on questions not answered yet (`Region`) all count; a row on another response of the
//!   target question, or on a response the context rules out, does not (nor does anything
//!   below it). A group in the context satisfies a condition it shares a response with.
//! * **To-do**: `min(max over counted rows of (min − observed), min over counted rows of
//!   (max − observed))`. A single target is min = max, so this is then the smallest
//!   (target − observed). A response still needs interviews when some counted row is below
//!   its min and none is at its max: with a root of min 100, max 120, observed 92 and a cell of
//!   min 30, max 40, observed 35, the cell's to-do is min(max(8, −5), min(28, 5)) = 5. A
//!   response with no counted row has to-do 1.
//! * **Order**:
//!
//!   | method | responses | sorted by, best first |
//!   |---|---|---|
//!   | `available` | to-do > 0 | to-do, descending |
//!   | `list` | all, over quota too | to-do, descending |
//!   | `available_balanced` | to-do > 0 | (Target% − Observed%) / Target%, descending |
//!   | `balanced_list` | all, over quota too | Target% − Observed%, descending |
//!
//!   Ties keep the question's response order.
//! * **Percentages**: a response's *cell* is the counted target-question row(s) of `r` with a
//!   target that no counted target-question row of `r` below them refines (so a response in a
//!   group without a target of its own uses the nearest group above it that has one); among
//!   those, the rows with the most conditions fixed by the context, then the fewest on unknown
//!   questions (`Male → A` and `Female → A` when the gender is unknown; `Female → A` alone
//!   when it is `Female`). Target% and Observed% are the cell's summed min targets and
//!   observed counts over their sums across the target question's responses; Observed% is 0
//!   when nothing is observed. A response whose target is 0 (or that has no cell) sorts last
//!   in both balanced methods. Comparisons are exact (integer cross-multiplication), so equal
//!   percentages are ties.
//! * **Relaxation**: only when no row with a target counts for any response, the context
//!   entries are dropped last-listed first until one does (the target question is never
//!   dropped, and neither are the respondent's answers: they are facts, and an answer applies
//!   again on a question whose context entry was dropped).
//!
//! [`QuotaTree::explain`] shows, per response, the rows that counted (split into those shared
//! by every response and those specific to it — the seed's "selected rows"), its cell and its
//! to-do.
//!
//! # Counting and gating
//!
//! [`QuotaTree::record`] counts a completed interview in every node whose conditions its
//! answers satisfy. [`QuotaTree::set_target`] edits a target mid-field (below the count is
//! allowed: the cell is then over quota). For gating completes per cell,
//! [`QuotaTree::headroom`] gives the smallest (max − observed) over the nodes a respondent
//! matches, and [`QuotaTree::headroom_with_pending`] holds interviews in progress against it.
//!
//! # Typed queries
//!
//! [`quota_survey!`](crate::quota_survey) declares the questions as types, so that
//! `Product::query().given(Gender::Female)` is checked by the compiler; see [`typed`].
//!
//! # Performance
//!
//! The tree is kept as flat depth-first arrays. A query is one pass for all responses at once:
//! it jumps over subtrees that contradict the context, goes straight (by binary search) to the
//! child a known answer selects, and reads subtrees that name neither the target question nor
//! a known question from aggregates maintained by counting and edits. A query with neither
//! context nor answers does not read the tree at all: for every question with at least 16
//! nodes the tree keeps, per response, the aggregates of the rows that count for it (small
//! tournaments updated on each count or edit) and the target and count sums of its cell. So
//! every query costs about a microsecond whatever the tree's size. [`QuotaTree::query_into`]
//! with a reused [`QueryBuffer`] does not allocate. `docs/quota.md` has the measured figures.

mod engine;
mod error;
mod explain;
mod fast;
mod index;
mod node;
mod query;
mod spec;
mod tree;
pub mod typed;

pub use engine::QueryBuffer;
pub use error::{CountError, EditError};
pub use explain::{Explanation, ResponseExplanation};
pub use node::{Condition, NodeId, Target};
pub use query::{Query, QueryError, QuotaMethod};
pub use spec::{NodeSpec, SpecError};
pub use tree::{MAX_COUNT, MAX_NODES, NodeRef, QuotaTree, QuotaTreeBuilder};
pub use typed::{
    BindError, Distinct, Group, QuestionDecl, Survey, TypedAnswers, TypedQuery, TypedQuestion,
    TypedQuotaTree,
};
