use super::*;
use crate::schema::Rule;

const HEADER: &str = "category_id,category_name,incidence_rate,category_length_seconds";

fn load(rows: &str) -> Result<Catalogue, CatalogueError> {
    Catalogue::from_csv(Schema::default_survey(), &format!("{HEADER}\n{rows}"))
}

#[test]
fn bundled_catalogue_loads_with_the_documented_bound() {
    let text = include_str!("../../examples/data/fake_category_data.csv");
    let catalogue = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    assert_eq!(catalogue.len(), 77);
    let bound = catalogue.lower_bound(480.0, None);
    assert!((bound - 3490.8).abs() < 0.05, "N* = {bound}");
    assert!(catalogue.preflight(480.0).is_clean());
}

#[test]
fn bad_rows_name_line_and_field() {
    let err = load("1,a,0.5,100\n2,b,abc,100\n").unwrap_err();
    assert_eq!(
        err,
        CatalogueError::Field {
            line: 3,
            field: "incidence_rate",
            problem: "`abc` is not a number".into()
        }
    );
    assert!(matches!(
        load("1,a,1.5,100").unwrap_err(),
        CatalogueError::Field {
            line: 2,
            field: "incidence_rate",
            ..
        }
    ));
    assert!(matches!(
        load("1,a,0,100").unwrap_err(),
        CatalogueError::Field {
            field: "incidence_rate",
            ..
        }
    ));
    assert!(matches!(
        load("1,a,0.5,0").unwrap_err(),
        CatalogueError::Field {
            field: "category_length_seconds",
            ..
        }
    ));
    assert!(matches!(
        load("1,a,0.5,NaN").unwrap_err(),
        CatalogueError::Field {
            field: "category_length_seconds",
            ..
        }
    ));
    assert_eq!(
        load("1,a,0.5,10\n1,b,0.5,10").unwrap_err(),
        CatalogueError::DuplicateId {
            line: 3,
            key: "1".into(),
            first_line: 2
        }
    );
    assert!(matches!(
        load("1,a,0.5").unwrap_err(),
        CatalogueError::FieldCount {
            line: 2,
            found: 3,
            expected: 4
        }
    ));
}

#[test]
fn eligibility_errors_name_the_unknown_response() {
    let text = format!("{HEADER},eligibility\n1,a,0.5,10,gender=woman\n");
    let err = Catalogue::from_csv(Schema::default_survey(), &text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2: field `eligibility`: question `gender` has no response `woman`"
    );
}

#[test]
fn loi_spread_and_exclusion_group_columns() {
    let text = "category_id,category_name,incidence_rate,category_length_seconds,loi_spread,exclusion_group\n\
                17,Craft Beer,0.31,105,0.3,beer\n\
                28,Coffee,0.4,32,,\n\
                34,Alcohol Free Beer,0.40,104,0,beer\n";
    let c = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    assert!(c.has_any_loi_spread() && c.has_exclusion_groups());
    assert!((c.loi_log_variance(CategoryId(0)) - 1.09f64.ln()).abs() < 1e-12);
    assert_eq!(c.loi_log_variance(CategoryId(1)), 0.0);
    assert_eq!(
        c.exclusion_group_members(CategoryId(0)),
        Some(&[CategoryId(0), CategoryId(2)][..])
    );
    assert_eq!(
        c.exclusion_group_members(CategoryId(2)),
        Some(&[CategoryId(0), CategoryId(2)][..])
    );
    assert_eq!(c.exclusion_group_members(CategoryId(1)), None);
    let bad = "category_id,category_name,incidence_rate,category_length_seconds,loi_spread\n1,A,0.5,10,-1\n";
    assert!(matches!(
        Catalogue::from_csv(Schema::default_survey(), bad),
        Err(CatalogueError::Field {
            line: 2,
            field: "loi_spread",
            ..
        })
    ));
}

#[test]
fn optional_columns_and_quotes() {
    let text = "category_name,category_id,incidence_rate,category_length_seconds,target,qualifier_seconds,eligibility\n\
                \"Beer, craft\",7,0.5,100,50,10,\"age=18-34|35-54\"\r\n\
                \"Say \"\"hi\"\"\",8,0.25,60,,,\n";
    let c = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    assert_eq!(c.category(CategoryId(0)).name, "Beer, craft");
    assert_eq!(c.category(CategoryId(0)).target, 50);
    assert_eq!(c.seconds_if_qualified(CategoryId(0)), 110.0);
    assert!((c.eligible_share(CategoryId(0)) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(c.category(CategoryId(1)).name, "Say \"hi\"");
    assert_eq!(c.category(CategoryId(1)).target, DEFAULT_TARGET);
    assert!(matches!(
        Catalogue::from_csv(Schema::default_survey(), "category_id\n1\n"),
        Err(CatalogueError::MissingColumn {
            column: "category_name"
        })
    ));
    assert!(matches!(
        Catalogue::from_csv(
            Schema::default_survey(),
            &format!("{HEADER}\n\"1,a,0.5,10\n")
        ),
        Err(CatalogueError::Unterminated { line: 2 })
    ));
    assert_eq!(
        Catalogue::from_csv(Schema::default_survey(), HEADER).unwrap_err(),
        CatalogueError::Empty
    );
}

#[test]
fn eligibility_table_matches_rules() {
    let schema = Schema::default_survey();
    let text = format!(
        "{HEADER},eligibility\n1,a,0.5,10,gender=female\n2,b,0.5,10,age=55+;region=north|south\n3,c,0.5,10,\n"
    );
    let c = Catalogue::from_csv(schema.clone(), &text).unwrap();
    let mut bits = Vec::new();
    for cell in 0..schema.cell_count_with_unknown().unwrap() {
        let answers = schema.answers_of_cell(cell);
        c.eligibility_into(&answers, &mut bits);
        for id in c.ids() {
            let bit = bits[id.index() / 64] >> (id.index() % 64) & 1 == 1;
            assert_eq!(bit, c.is_eligible(id, &answers));
        }
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_round_trip_revalidates() {
    let text = format!("{HEADER},eligibility\n1,a,0.5,10,gender=female\n2,b,0.25,60,\n");
    let c = Catalogue::from_csv(Schema::default_survey(), &text).unwrap();
    let json = serde_json::to_string(&c).unwrap();
    let back: Catalogue = serde_json::from_str(&json).unwrap();
    assert_eq!(back.categories(), c.categories());
    assert_eq!(back.schema(), c.schema());
    assert_eq!(back.eligible_share(CategoryId(0)), 0.5);
    let broken = json.replace("0.25", "1.25");
    let err = serde_json::from_str::<Catalogue>(&broken).unwrap_err();
    assert!(err.to_string().contains("incidence_rate"), "{err}");
}

#[test]
fn preflight_reports_blocked_categories() {
    let text = format!(
        "{HEADER},eligibility\n1,long,0.5,500,\n2,nobody,0.5,10,gender=female;gender=male\n3,ok,0.5,10,\n"
    );
    let c = Catalogue::from_csv(Schema::default_survey(), &text).unwrap();
    let p = c.preflight(480.0);
    let blocked: Vec<_> = p.blocked().map(|b| b.category.index()).collect();
    assert_eq!(blocked, vec![0, 1]);
    assert_eq!(p.categories[2].expected_respondents, 400.0);
    assert!(c.lower_bound(480.0, None).is_infinite());
}

#[test]
fn a_misspelt_column_is_refused_naming_it_and_the_known_columns() {
    // `targets` for `target`: before issue 18 it was ignored and every target stayed at 200.
    let text = format!("{HEADER},targets\n1,a,0.5,10,150\n");
    let err = Catalogue::from_csv(Schema::default_survey(), &text).unwrap_err();
    assert_eq!(
        err,
        CatalogueError::UnknownColumn {
            column: "targets".into(),
            known: CSV_COLUMNS
        }
    );
    let message = err.to_string();
    assert!(
        message.starts_with("line 1: unknown column `targets` (known columns: category_id, "),
        "{message}"
    );
    for column in CSV_COLUMNS {
        assert!(message.contains(column), "{column} missing from {message}");
    }
    // Every documented column is accepted.
    let all = format!(
        "{}\n1,a,0.5,10,150,5,gender=female,0.2,g,\n",
        CSV_COLUMNS.join(",")
    );
    let c = Catalogue::from_csv(Schema::default_survey(), &all).unwrap();
    assert_eq!(c.categories()[0].target, 150);
}

#[test]
fn cells_column_reads_cells_by_rule() {
    let schema = Schema::default_survey();
    let text = format!(
        "{HEADER},cells\n\
         1,a,0.5,10,women: 80: gender=female / older men: 5..30: gender=male;age=55+ / all: 100:\n\
         2,b,0.5,10,\n"
    );
    let c = Catalogue::from_csv(schema.clone(), &text).unwrap();
    let want = vec![
        QuotaCell::new("women", Rule::parse(&schema, "gender=female").unwrap(), 80),
        QuotaCell::new(
            "older men",
            Rule::parse(&schema, "gender=male;age=55+").unwrap(),
            30,
        )
        .with_min(5),
        QuotaCell::new("all", Rule::Everyone, 100),
    ];
    assert_eq!(c.categories()[0].cells, want);
    assert!(c.categories()[1].cells.is_empty());
    assert_eq!(c.cell_count(), 3);
}

#[test]
fn bad_cells_name_the_line_and_the_cell() {
    let cases = [
        (
            "women 80 gender=female",
            "cell 1 `women 80 gender=female` is not",
        ),
        (
            "w: 80: gender=female / : 3: ",
            "cell 2 `: 3:` has an empty key",
        ),
        (
            "w: eighty: gender=female",
            "cell `w`: `eighty` is not a whole number",
        ),
        ("w: 9..5: gender=female", "cell `w`: min 9 is above max 5"),
        (
            "w: 5: gender=woman",
            "cell `w`: question `gender` has no response `woman`",
        ),
        ("w: 5: / w: 6:", "cell `w` appears twice"),
    ];
    for (cells, want) in cases {
        let text = format!("{HEADER},cells\n1,a,0.5,10,{cells}\n");
        let err = Catalogue::from_csv(Schema::default_survey(), &text).unwrap_err();
        assert!(
            matches!(
                err,
                CatalogueError::Field {
                    line: 2,
                    field: "cells",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(want), "{cells}: {message}");
    }
}
