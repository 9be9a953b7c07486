//! Nothing here: the benches are the `[[bench]]` targets beside this file.
