//! The simulate example's `--plot FILE.svg`: one SVG with three pictures of a simulated month.
//!
//! (a) the share of all quotas filled against respondents, one line per policy (run 0 of each),
//!     with the closed-form bound N* and the LP bound marked;
//! (b) the distribution of interview seconds per policy, with the hard cap marked;
//! (c) for the categories whose exposure mix strays furthest from the target in the first
//!     policy's run, the observed mix beside the target, response by response.
//!
//! Included from `simulate/main.rs` with `#[path = "../support/plot.rs"] mod plot;`.

use plotters::prelude::*;
use quotaroute::catalogue::Catalogue;
use quotaroute::sim::{Trace, reference_shares};

/// Colours that stay apart on screen and in grey print (Tableau 10).
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
const TARGET: RGBColor = RGBColor(170, 170, 170);
const FONT: &str = "sans-serif";

/// One policy's traced run.
pub struct Run<'a> {
    /// The policy's name.
    pub policy: &'a str,
    /// What happened to each respondent.
    pub trace: &'a Trace,
}

/// Marks drawn on the pictures.
pub struct Marks {
    /// The closed-form bound N*.
    pub n_star: f64,
    /// The LP bound (drawn when it differs from N* by more than 0.1%).
    pub n_lp: f64,
    /// Seconds per respondent, never exceeded.
    pub hard_cap: f64,
}

type Fail = Box<dyn std::error::Error>;

/// Draws the three pictures into an SVG file at `path`.
pub fn draw(
    path: &str,
    catalogue: &Catalogue,
    runs: &[Run<'_>],
    marks: &Marks,
) -> Result<(), String> {
    draw_inner(path, catalogue, runs, marks).map_err(|e| format!("--plot {path}: {e}"))
}

fn draw_inner(
    path: &str,
    catalogue: &Catalogue,
    runs: &[Run<'_>],
    marks: &Marks,
) -> Result<(), Fail> {
    let root = SVGBackend::new(path, (1600, 1250)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(560);
    let (left, right) = bottom.split_horizontally(640);
    fill_curve(&top, catalogue, runs, marks)?;
    seconds_histogram(&left, runs, marks)?;
    exposure_mix(&right, catalogue, runs)?;
    root.present()?;
    Ok(())
}

fn fill_curve<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    catalogue: &Catalogue,
    runs: &[Run<'_>],
    marks: &Marks,
) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let wanted: u64 = catalogue
        .categories()
        .iter()
        .map(|c| u64::from(c.target))
        .sum::<u64>()
        .max(1);
    let longest = runs
        .iter()
        .map(|r| r.trace.completes.len())
        .max()
        .unwrap_or(1);
    let x_max = (longest as f64).max(marks.n_lp).max(marks.n_star) * 1.04;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "(a) Share of all quotas filled, by respondents drawn (run 0 of each policy)",
            (FONT, 26),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..1.02)?;
    chart
        .configure_mesh()
        .x_desc("respondents")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("completes / targets")
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, run) in runs.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        // Every respondent would be thousands of SVG points per line: keep about 600.
        let step = (run.trace.completes.len() / 600).max(1);
        let points = std::iter::once((0.0, 0.0)).chain(
            run.trace
                .completes
                .iter()
                .enumerate()
                .filter(|(n, _)| n % step == 0 || n + 1 == run.trace.completes.len())
                .map(|(n, &c)| ((n + 1) as f64, c as f64 / wanted as f64)),
        );
        let n = run.trace.completes.len();
        let end = run
            .trace
            .completes
            .last()
            .map_or(0.0, |&c| c as f64 / wanted as f64);
        // Where each policy finished: the number the legend gives.
        chart.draw_series(std::iter::once(Circle::new(
            (n as f64, end),
            6,
            colour.filled(),
        )))?;
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(3)))?
            .label(format!("{} ({n})", run.policy))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
    }
    let mut bound = |x: f64, label: String, y: f64| -> Result<(), Fail> {
        chart.draw_series(DashedLineSeries::new(
            [(x, 0.0), (x, 1.02)],
            8,
            6,
            BLACK.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label,
            (x, y),
            (FONT, 20)
                .into_font()
                .color(&BLACK)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Right,
                    plotters::style::text_anchor::VPos::Center,
                )),
        )))?;
        Ok(())
    };
    bound(marks.n_star, format!("N* = {:.0} ", marks.n_star), 0.12)?;
    if (marks.n_lp / marks.n_star - 1.0).abs() > 1e-3 && marks.n_lp.is_finite() {
        bound(marks.n_lp, format!("LP bound = {:.0} ", marks.n_lp), 0.2)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(20)
        .label_font((FONT, 20))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn seconds_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    runs: &[Run<'_>],
    marks: &Marks,
) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let width = 20.0;
    let bins = (marks.hard_cap / width).ceil() as usize + 1;
    let mut shares: Vec<Vec<f64>> = Vec::new();
    for run in runs {
        let mut counts = vec![0.0; bins];
        for &s in &run.trace.seconds {
            counts[((s / width) as usize).min(bins - 1)] += 1.0;
        }
        let total = run.trace.seconds.len().max(1) as f64;
        shares.push(counts.into_iter().map(|c| c / total).collect());
    }
    let y_max = shares
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(0.01)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("(b) Interview seconds per respondent", (FONT, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..(bins as f64 * width), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(format!("seconds (bins of {width:.0} s)"))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("share of respondents")
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, (run, share)) in runs.iter().zip(&shares).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        // A step outline per policy: overlaid bars would hide each other.
        let mut points = vec![(0.0, 0.0)];
        for (b, &s) in share.iter().enumerate() {
            points.push((b as f64 * width, s));
            points.push(((b + 1) as f64 * width, s));
        }
        points.push((bins as f64 * width, 0.0));
        let mean = run.trace.seconds.iter().sum::<f64>() / run.trace.seconds.len().max(1) as f64;
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!("{} (mean {mean:.0} s)", run.policy))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
    }
    chart.draw_series(DashedLineSeries::new(
        [(marks.hard_cap, 0.0), (marks.hard_cap, y_max)],
        8,
        6,
        BLACK.stroke_width(2),
    ))?;
    chart.draw_series(std::iter::once(Text::new(
        format!("cap {:.0} s ", marks.hard_cap),
        (marks.hard_cap, y_max * 0.97),
        (FONT, 18)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Top,
            )),
    )))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(15)
        .label_font((FONT, 17))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn exposure_mix<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    catalogue: &Catalogue,
    runs: &[Run<'_>],
) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let Some(run) = runs.first() else {
        return Ok(());
    };
    let schema = catalogue.schema();
    let reference = reference_shares(catalogue);
    let sizes: Vec<usize> = schema
        .question_ids()
        .map(|q| schema.response_count(q))
        .collect();
    let per_category: usize = sizes.iter().sum();
    // (divergence, category, question, observed shares)
    let mut pairs: Vec<(f64, usize, usize, Vec<f64>)> = Vec::new();
    for c in catalogue.ids() {
        let mut offset = c.index() * per_category;
        for (q, &n) in sizes.iter().enumerate() {
            let counts = &run.trace.exposures[offset..offset + n];
            offset += n;
            let total: u32 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let observed: Vec<f64> = counts
                .iter()
                .map(|&k| f64::from(k) / f64::from(total))
                .collect();
            let want = &reference[c.index() * sizes.len() + q];
            let l1 = observed.iter().zip(want).map(|(o, w)| (o - w).abs()).sum();
            pairs.push((l1, c.index(), q, observed));
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    pairs.truncate(6);
    let (title, grid) = area.split_vertically(76);
    title.draw(&Text::new(
        format!(
            "(c) Exposure mix against target: the 6 most divergent ({}, run 0)",
            run.policy
        ),
        (15, 8),
        (FONT, 26).into_font(),
    ))?;
    // One scale for every panel, so bar heights compare across panels.
    let y_max = pairs
        .iter()
        .flat_map(|(_, c, q, observed)| {
            observed
                .iter()
                .chain(&reference[c * sizes.len() + q])
                .copied()
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max);
    let y_max = ((y_max * 1.15 * 10.0).ceil() / 10.0).min(1.0);
    let panels = grid.split_evenly((3, 2));
    for (panel, (l1, c, q, observed)) in panels.iter().zip(&pairs) {
        let q_id = schema
            .question_ids()
            .nth(*q)
            .expect("question index from the schema");
        let names: Vec<String> = schema
            .response_ids(q_id)
            .map(|r| schema.response_name(q_id, r).to_owned())
            .collect();
        let want = &reference[c * sizes.len() + q];
        // The catalogue's own id first, then as much of the readable name as fits.
        let category = &catalogue.categories()[*c];
        let mut name = format!("{} {}", category.key, category.name);
        if name.chars().count() > 30 {
            name = name.chars().take(29).collect::<String>() + "…";
        }
        let n = names.len() as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{name} · {} · L1 {l1:.3}", schema.question_name(q_id)),
                (FONT, 17),
            )
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..y_max)?;
        let labels = names.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(names.len())
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
            .label_style((FONT, 15))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let colour = COLOURS[0];
        chart.draw_series(observed.iter().enumerate().map(|(r, &o)| {
            let x = r as f64;
            Rectangle::new([(x - 0.38, 0.0), (x, o)], colour.filled())
        }))?;
        chart.draw_series(want.iter().enumerate().map(|(r, &w)| {
            let x = r as f64;
            Rectangle::new([(x, 0.0), (x + 0.38, w)], TARGET.filled())
        }))?;
    }
    // One legend for all panels, in the title row.
    let legend_y = 56;
    let x0 = 40;
    title.draw(&Rectangle::new(
        [(x0, legend_y - 8), (x0 + 18, legend_y + 8)],
        COLOURS[0].filled(),
    ))?;
    title.draw(&Text::new(
        "observed",
        (x0 + 24, legend_y - 9),
        (FONT, 17).into_font(),
    ))?;
    title.draw(&Rectangle::new(
        [(x0 + 130, legend_y - 8), (x0 + 148, legend_y + 8)],
        TARGET.filled(),
    ))?;
    title.draw(&Text::new(
        "target / population",
        (x0 + 154, legend_y - 9),
        (FONT, 17).into_font(),
    ))?;
    Ok(())
}
