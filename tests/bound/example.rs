//! The `bound` example takes no arguments: a flag it would ignore (say `--catalogue my.csv`)
//! is refused, so its bundled figures are never printed as if they were a file's.

#[path = "../../examples/bound.rs"]
#[allow(dead_code)]
mod program;

#[test]
fn any_argument_is_refused_and_none_runs() {
    let refused =
        program::refuse_arguments(["--catalogue".to_string(), "my.csv".to_string()].into_iter());
    assert_eq!(
        refused,
        Err("unexpected argument `--catalogue`: this example takes no arguments".to_string())
    );
    assert_eq!(program::refuse_arguments(std::iter::empty()), Ok(()));
}
