//! The catalogue CSV format: reading it into a [`Catalogue`].

use super::{Catalogue, CatalogueError, Category, QuotaCell};
use crate::schema::{Rule, RuleError, Schema};

/// Every column of the catalogue CSV format, the required ones first. A header naming any
/// other column is refused ([`CatalogueError::UnknownColumn`]): a misspelt optional column
/// would otherwise leave every value at its default.
pub const CSV_COLUMNS: &[&str] = &[
    "category_id",
    "category_name",
    "incidence_rate",
    "category_length_seconds",
    "target",
    "qualifier_seconds",
    "eligibility",
    "loi_spread",
    "exclusion_group",
    "cells",
];

impl Catalogue {
    /// Reads the catalogue CSV format: the columns `category_id`, `category_name`,
    /// `incidence_rate`, `category_length_seconds`, and optionally `target` (default 200),
    /// `qualifier_seconds` (default 0) and `eligibility` (`question=resp|resp` clauses joined by
    /// `;`; empty means everyone), `loi_spread` (the LOI's coefficient of variation, default 0),
    /// `exclusion_group` (a name; empty means none) and `cells` (quota cells, `key: max: rule`
    /// or `key: min..max: rule`, joined by `/`; empty means none; `key < parent: …` nests a
    /// cell under an earlier one, so a flat file carries a quota tree). [`CSV_COLUMNS`] lists them;
    /// any other column is an error, so a misspelling is never silently ignored. Quoted fields
    /// may hold commas. `docs/catalogue.md` documents the format and its JSON equivalent.
    ///
    /// ```
    /// use quotaroute::catalogue::{Catalogue, CatalogueError};
    /// use quotaroute::schema::Schema;
    ///
    /// let csv = "category_id,category_name,incidence_rate,category_length_seconds,cells\n\
    ///            7,Self Tan,0.19,116,women: 80: gender=female / young men: 10..40: gender=male;age=18-34\n";
    /// let catalogue = Catalogue::from_csv(Schema::default_survey(), csv)?;
    /// let cells = &catalogue.categories()[0].cells;
    /// assert_eq!((cells[0].key.as_str(), cells[0].max), ("women", 80));
    /// assert_eq!((cells[1].min, cells[1].max), (10, 40));
    ///
    /// // A misspelt column is refused, naming it.
    /// let typo = "category_id,category_name,incidence_rate,category_length_seconds,targets\n\
    ///             7,Self Tan,0.19,116,150\n";
    /// let err = Catalogue::from_csv(Schema::default_survey(), typo).unwrap_err();
    /// assert!(matches!(err, CatalogueError::UnknownColumn { ref column, .. } if column == "targets"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`CatalogueError`] naming the line and the field; nothing is half-loaded.
    pub fn from_csv(schema: Schema, text: &str) -> Result<Catalogue, CatalogueError> {
        let rows = parse_csv(text)?;
        let mut rows = rows.into_iter();
        let Some((_, header)) = rows.next() else {
            return Err(CatalogueError::Empty);
        };
        let header: Vec<String> = header.into_iter().map(|h| h.trim().to_owned()).collect();
        // A set, not a scan of the columns before: a header of many columns stays linear.
        let mut columns = std::collections::HashSet::with_capacity(header.len());
        for h in &header {
            if !CSV_COLUMNS.contains(&h.as_str()) {
                return Err(CatalogueError::UnknownColumn {
                    column: h.clone(),
                    known: CSV_COLUMNS,
                });
            }
            if !columns.insert(h.as_str()) {
                return Err(CatalogueError::DuplicateColumn { column: h.clone() });
            }
        }
        let col = |name: &'static str| header.iter().position(|h| h == name);
        let need =
            |name: &'static str| col(name).ok_or(CatalogueError::MissingColumn { column: name });
        let (id_col, name_col) = (need("category_id")?, need("category_name")?);
        let (ir_col, loi_col) = (need("incidence_rate")?, need("category_length_seconds")?);
        let (target_col, q_col, elig_col) =
            (col("target"), col("qualifier_seconds"), col("eligibility"));
        let (spread_col, group_col) = (col("loi_spread"), col("exclusion_group"));
        let cells_col = col("cells");

        let mut categories = Vec::new();
        let mut lines = Vec::new();
        for (line, fields) in rows {
            if fields.len() == 1 && fields[0].trim().is_empty() {
                continue; // blank line
            }
            if fields.len() != header.len() {
                return Err(CatalogueError::FieldCount {
                    line,
                    found: fields.len(),
                    expected: header.len(),
                });
            }
            let field = |i: usize| fields[i].trim();
            let number = |i: usize, name: &'static str| -> Result<f64, CatalogueError> {
                field(i).parse::<f64>().map_err(|_| CatalogueError::Field {
                    line,
                    field: name,
                    problem: format!("`{}` is not a number", field(i)),
                })
            };
            let key = field(id_col).to_owned();
            if key.is_empty() {
                return Err(CatalogueError::Field {
                    line,
                    field: "category_id",
                    problem: "empty id".into(),
                });
            }
            let mut category = Category::new(
                key,
                field(name_col),
                number(ir_col, "incidence_rate")?,
                number(loi_col, "category_length_seconds")?,
            );
            if let Some(i) = target_col.filter(|&i| !field(i).is_empty()) {
                category.target = field(i).parse::<u32>().map_err(|_| CatalogueError::Field {
                    line,
                    field: "target",
                    problem: format!("`{}` is not a whole number of completes", field(i)),
                })?;
            }
            if let Some(i) = q_col.filter(|&i| !field(i).is_empty()) {
                category.qualifier_seconds = number(i, "qualifier_seconds")?;
            }
            if let Some(i) = spread_col.filter(|&i| !field(i).is_empty()) {
                category.loi_spread = number(i, "loi_spread")?;
            }
            if let Some(i) = group_col.filter(|&i| !field(i).is_empty()) {
                category.exclusion_group = Some(field(i).to_owned());
            }
            if let Some(i) = cells_col {
                category.cells =
                    parse_cells(&schema, field(i)).map_err(|problem| CatalogueError::Field {
                        line,
                        field: "cells",
                        problem,
                    })?;
            }
            if let Some(i) = elig_col {
                category.eligibility =
                    Rule::parse(&schema, field(i)).map_err(|e| CatalogueError::Field {
                        line,
                        field: "eligibility",
                        problem: match e {
                            RuleError::Unknown(e) => e.to_string(),
                            other => other.to_string(),
                        },
                    })?;
            }
            categories.push(category);
            lines.push(line);
        }
        Self::with_lines(schema, categories, &lines)
    }
}

/// Reads the `cells` column: cells joined by `/`, each `key: max: rule` or
/// `key: min..max: rule`, the rule in the eligibility form (blank: everyone in the category);
/// `key < parent: …` places the cell under an earlier one (a quota tree).
/// Blank text means no cells. The problem, on failure, names the cell.
fn parse_cells(schema: &Schema, text: &str) -> Result<Vec<QuotaCell>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut cells: Vec<QuotaCell> = Vec::new();
    for (i, cell) in text.split('/').enumerate() {
        let made = parse_cell(schema, i, cell, &cells)?;
        cells.push(made);
    }
    Ok(cells)
}

/// One cell, `key: bounds: rule` or `key < parent: bounds: rule` (the parent an earlier cell).
fn parse_cell(
    schema: &Schema,
    i: usize,
    cell: &str,
    earlier: &[QuotaCell],
) -> Result<QuotaCell, String> {
    let cell = cell.trim();
    let mut parts = cell.splitn(3, ':').map(str::trim);
    let (Some(key), Some(bounds), Some(rule)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "cell {} `{cell}` is not `key: max: rule` or `key: min..max: rule`",
            i + 1
        ));
    };
    let (key, parent) = match key.split_once('<') {
        Some((key, parent)) => (key.trim(), Some(parent.trim())),
        None => (key, None),
    };
    if key.is_empty() {
        return Err(format!("cell {} `{cell}` has an empty key", i + 1));
    }
    let parent = match parent {
        None => None,
        Some(p) => Some(earlier.iter().position(|o| o.key == p).ok_or_else(|| {
            format!("cell `{key}`: parent `{p}` is no earlier cell of the category")
        })?),
    };
    let count = |text: &str| {
        text.trim()
            .parse::<u32>()
            .map_err(|_| format!("cell `{key}`: `{text}` is not a whole number of completes"))
    };
    let (min, max) = match bounds.split_once("..") {
        Some((min, max)) => (count(min)?, count(max)?),
        None => (0, count(bounds)?),
    };
    let rule = Rule::parse(schema, rule).map_err(|e| match e {
        RuleError::Unknown(e) => format!("cell `{key}`: {e}"),
        other => format!("cell `{key}`: {other}"),
    })?;
    let mut made = QuotaCell::new(key, rule, max).with_min(min);
    made.parent = parent;
    Ok(made)
}

/// Splits CSV text into records of fields, with the 1-based line each record starts on.
/// Handles quoted fields (with `""` escapes and embedded commas or newlines), CRLF and
/// CR-only line endings, and a UTF-8 byte-order mark.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogueError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut quote_line = 0;
    while let Some(ch) = chars.next() {
        if in_quotes {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(ch),
            }
            continue;
        }
        match ch {
            '"' if field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
                quote_line = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            // A lone CR ends a line too (old Mac files): otherwise the whole file is one
            // header line and every column but the first is "missing".
            '\n' | '\r' => {
                fields.push(std::mem::take(&mut field));
                records.push((record_line, std::mem::take(&mut fields)));
                line += 1;
                record_line = line;
            }
            _ => field.push(ch),
        }
    }
    if in_quotes {
        return Err(CatalogueError::Unterminated { line: quote_line });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}
