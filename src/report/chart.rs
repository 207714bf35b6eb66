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
