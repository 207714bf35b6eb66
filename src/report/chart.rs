//! The HTML form's charts as inline SVG: runs per day by outcome (stacked bars) and the
//! mean duration per day of the slowest jobs (lines). Plain text, no script, so the page
//! prints as it shows.

use std::fmt::Write as _;

use super::render::{Lang, html_escape};
use super::{Charts, DayRuns};

const W: f64 = 680.0;
const H: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 30.0;
const COLORS: [&str; 3] = ["#2a6fdb", "#d9822b", "#7a4fb0"];

/// A round maximum for an axis: 1, 2 or 5 times a power of ten, at least `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|x| *x >= v)
        .unwrap_or(10.0 * p)
}

/// The chart's frame: its title written above it, the vertical axis with its `unit`, and the
/// days along the bottom (labelled month-day).
fn frame(out: &mut String, title: &str, unit: &str, lang: Lang, max: f64, days: &[String]) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{0}\" class=\"chart\">\
         <text x=\"{1:.1}\" y=\"13\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\">{0}</text>\
         <text x=\"{2:.1}\" y=\"{3:.1}\" font-size=\"9\" text-anchor=\"end\">({4})</text>\
         <text x=\"2\" y=\"{5:.1}\" font-size=\"9\">({6})</text>",
        html_escape(title),
        W / 2.0,
        LEFT - 4.0,
        TOP - 8.0,
        html_escape(unit),
        H - 8.0,
        match lang {
            Lang::Ja => "月-日",
            Lang::En => "month-day",
        }
    );
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let y = TOP + plot_h * f64::from(i) / 4.0;
        let v = max * f64::from(4 - i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{W}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y + 3.0,
            if v >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        );
    }
    let step = (W - LEFT) / days.len().max(1) as f64;
    for (i, d) in days.iter().enumerate() {
        // A label every fifth day, and the first.
        if i % 5 == 0 {
            let x = LEFT + step * (i as f64 + 0.5);
            let label = d.get(5..).unwrap_or(d);
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                H - 8.0,
                html_escape(label)
            );
        }
    }
}

/// Stacked bars: succeeded, failed, other, per day.
pub fn daily(days: &[DayRuns], lang: Lang) -> String {
    let title = match lang {
        Lang::Ja => "日別の実行件数(結果別)",
        Lang::En => "Runs per day by outcome",
    };
    let max = nice(
        days.iter()
            .map(|d| (d.succeeded + d.failed + d.other) as f64)
            .fold(0.0, f64::max),
    );
    let labels: Vec<String> = days.iter().map(|d| d.date.clone()).collect();
    let mut out = String::new();
    let unit = match lang {
        Lang::Ja => "件",
        Lang::En => "runs",
    };
    frame(&mut out, title, unit, lang, max, &labels);
    let plot_h = H - TOP - BOTTOM;
    let step = (W - LEFT) / days.len().max(1) as f64;
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + step * i as f64 + step * 0.15;
        let mut y = TOP + plot_h;
        for (n, color) in [
            (d.succeeded, "#3c9a5f"),
            (d.failed, "#c8413b"),
            (d.other, "#999"),
        ] {
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / max;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{} {n}</title></rect>",
                step * 0.7,
                html_escape(&d.date)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One line per job: the mean duration of its runs on each day, in seconds.
///
/// In Japanese a job with a title (`titles`, by job name) is labelled 「title」(name).
pub fn trend(
    charts: &Charts,
    titles: &std::collections::BTreeMap<String, String>,
    lang: Lang,
) -> String {
    let title = match lang {
        Lang::Ja => "処理時間の推移(平均の長いジョブ)",
        Lang::En => "Duration trend of the slowest jobs",
    };
    let days: Vec<String> = charts.daily.iter().map(|d| d.date.clone()).collect();
    let max = nice(
        charts
            .trend
            .iter()
            .flat_map(|t| t.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let mut out = String::new();
    let unit = match lang {
        Lang::Ja => "秒",
        Lang::En => "s",
    };
    frame(&mut out, title, unit, lang, max, &days);
    let plot_h = H - TOP - BOTTOM;
    let step = (W - LEFT) / days.len().max(1) as f64;
    for (k, t) in charts.trend.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<String> = t
            .points
            .iter()
            .filter_map(|(date, v)| {
                let i = days.iter().position(|d| d == date)?;
                let x = LEFT + step * (i as f64 + 0.5);
                let y = TOP + plot_h * (1.0 - v / max);
                Some(format!("{x:.1},{y:.1}"))
            })
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{color}\">{}</text>",
            points.join(" "),
            LEFT + 6.0,
            TOP + 12.0 + 12.0 * k as f64,
            html_escape(&match (lang, titles.get(&t.job)) {
                (Lang::Ja, Some(title)) => format!("「{title}」({})", t.job),
                _ => t.job.clone(),
            })
        );
    }
    out.push_str("</svg>");
    out
}

/// One run on a job's duration chart.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    /// Its business date, `YYYY-MM-DD` (the axis shows month-day).
    pub date: String,
    pub seconds: f64,
    /// It succeeded (the others are drawn red).
    pub ok: bool,
}

/// The band a job's usual durations fall in: the baseline's median and the margin either
/// side of it beyond which a run is flagged (`domain::baseline`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub median: f64,
    pub margin: f64,
}

/// A job's recent runs, oldest first: one dot a run (a failed one red) on a line, over its
/// baseline band (shaded) with the median dashed. The dashboard's Job page.
pub fn durations(runs: &[RunPoint], band: Option<Band>, lang: Lang) -> String {
    let title = match lang {
        Lang::Ja => "実行ごとの処理時間と基準の範囲",
        Lang::En => "Duration of each run and the baseline band",
    };
    let unit = match lang {
        Lang::Ja => "秒",
        Lang::En => "s",
    };
    let top = runs
        .iter()
        .map(|r| r.seconds)
        .chain(band.map(|b| b.median + b.margin))
        .fold(0.0, f64::max);
    let max = nice(top);
    let labels: Vec<String> = runs.iter().map(|r| r.date.clone()).collect();
    let mut out = String::new();
    frame(&mut out, title, unit, lang, max, &labels);
    let plot_h = H - TOP - BOTTOM;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));
    if let Some(b) = band {
        let (hi, lo) = (y_of(b.median + b.margin), y_of(b.median - b.margin));
        let legend = match lang {
            Lang::Ja => "基準の範囲(中央値 ± 許容幅)",
            Lang::En => "baseline band (median ± margin)",
        };
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{LEFT}\" y=\"{hi:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3c9a5f\" fill-opacity=\"0.15\"/>\
             <line class=\"median\" x1=\"{LEFT}\" y1=\"{m:.1}\" x2=\"{W}\" y2=\"{m:.1}\" stroke=\"#3c9a5f\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{W}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\" fill=\"#1a7f37\">{legend}</text>",
            W - LEFT,
            (lo - hi).max(0.5),
            TOP - 8.0,
            m = y_of(b.median),
        );
    }
    let step = (W - LEFT) / runs.len().max(1) as f64;
    let at = |i: usize, r: &RunPoint| (LEFT + step * (i as f64 + 0.5), y_of(r.seconds));
    let line: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (x, y) = at(i, r);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        out,
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1\" points=\"{}\"/>",
        COLORS[0],
        line.join(" ")
    );
    for (i, r) in runs.iter().enumerate() {
        let (x, y) = at(i, r);
        let _ = write!(
            out,
            "<circle class=\"{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{}\"><title>{} {:.1} {unit}</title></circle>",
            if r.ok { "ok" } else { "bad" },
            if r.ok { COLORS[0] } else { "#c8413b" },
            html_escape(&r.date),
            r.seconds
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(12.0), 20.0);
        assert_eq!(nice(48.0), 50.0);
        assert_eq!(nice(100.0), 100.0);
    }

    #[test]
    fn durations_draw_a_dot_a_run_over_the_band() {
        let runs: Vec<RunPoint> = (1..=6)
            .map(|d| RunPoint {
                date: format!("2026-10-0{d}"),
                seconds: 10.0 * f64::from(d),
                ok: d != 6,
            })
            .collect();
        let band = Band {
            median: 30.0,
            margin: 15.0,
        };
        let svg = durations(&runs, Some(band), Lang::En);
        assert_eq!(svg.matches("<circle class=\"ok\"").count(), 5, "{svg}");
        assert_eq!(svg.matches("<circle class=\"bad\"").count(), 1, "{svg}");
        // The axis ends at 100 s (nice of 60); the band spans 15..45 s: y 146.0..92.0 of a
        // plot from 30 to 176.
        assert!(
            svg.contains("<rect class=\"band\" x=\"44\" y=\"110.3\""),
            "{svg}"
        );
        assert!(svg.contains("height=\"43.8\""), "{svg}");
        assert!(
            svg.contains(">baseline band (median ± margin)</text>"),
            "{svg}"
        );
        let none = durations(&runs, None, Lang::Ja);
        assert!(!none.contains("class=\"band\"") && none.contains(">(秒)</text>"));
        assert!(durations(&[], None, Lang::En).ends_with("</svg>"));
    }

    #[test]
    fn job_names_cannot_become_markup() {
        let charts = Charts {
            daily: vec![DayRuns {
                date: "2026-10-01".into(),
                succeeded: 1,
                failed: 0,
                other: 0,
            }],
            trend: vec![super::super::Trend {
                job: "<script>x</script>".into(),
                points: vec![("2026-10-01".into(), 3.0)],
            }],
        };
        let svg = trend(&charts, &Default::default(), Lang::En);
        assert!(
            svg.contains("&lt;script&gt;") && !svg.contains("<script>"),
            "{svg}"
        );
        // In Japanese a job with a title is labelled by it, escaped too; the chart says
        // what it shows and in which unit.
        let titles = [("<script>x</script>".to_owned(), "夜間<b>".to_owned())].into();
        let svg = trend(&charts, &titles, Lang::Ja);
        assert!(
            svg.contains("「夜間&lt;b&gt;」(&lt;script&gt;x&lt;/script&gt;)"),
            "{svg}"
        );
        assert!(
            svg.contains(">処理時間の推移(平均の長いジョブ)</text>")
                && svg.contains(">(秒)</text>"),
            "{svg}"
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
