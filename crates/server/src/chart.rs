//! Charts as inline SVG made on the server: no script, nothing to download, and they pass
//! a strict Content-Security-Policy (presentation attributes only, no style attributes).

use std::fmt::Write;

/// A colour per series, readable on white and told apart by people with common colour blindness.
const PALETTE: [&str; 8] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line chart of several series over the same x labels; `values[s][i]` is series s at x i.
pub fn lines(id: &str, title: &str, x_labels: &[String], series: &[(String, Vec<i64>)]) -> String {
    let (w, h, left, bottom, top) = (640.0, 240.0, 56.0, 28.0, 24.0);
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0).max(1) as f64;
    let n = x_labels.len().max(2) as f64;
    let x = |i: usize| left + (w - left - 8.0) * i as f64 / (n - 1.0);
    let y = |v: i64| top + (h - top - bottom) * (1.0 - v as f64 / max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    let _ =
        write!(s, r##"<line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="#999"/>"##, h - bottom, h - bottom);
    let _ = write!(s, r##"<text x="4" y="{}" font-size="11" fill="#555">{}</text>"##, top + 4.0, max as i64);
    let _ = write!(s, r##"<text x="4" y="{}" font-size="11" fill="#555">0</text>"##, h - bottom);
    if let (Some(first), Some(last)) = (x_labels.first(), x_labels.last()) {
        let _ = write!(
            s,
            r##"<text x="{left}" y="{}" font-size="11" fill="#555">{}</text>"##,
            h - 8.0,
            esc(first)
        );
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" fill="#555" text-anchor="end">{}</text>"##,
            w - 8.0,
            h - 8.0,
            esc(last)
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<String> =
            values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
        let _ = write!(
            s,
            r#"<polyline class="series" data-name="{}" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            esc(name),
            points.join(" ")
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="11" fill="{colour}">{}</text>"#,
            left + 8.0 + 90.0 * k as f64,
            top - 8.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart of labelled values, with each value printed beside its bar.
pub fn bars(id: &str, title: &str, items: &[(String, i64, String)]) -> String {
    let row = 22.0;
    let (w, left) = (640.0, 140.0);
    let h = row * items.len().max(1) as f64 + 8.0;
    let max = items.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, (label, value, shown)) in items.iter().enumerate() {
        let yy = 4.0 + row * i as f64;
        let bw = ((w - left - 200.0) * (*value).max(0) as f64 / max).max(1.0);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="12" fill="#333" text-anchor="end">{}</text><rect class="bar" x="{left}" y="{yy}" width="{bw:.1}" height="{}" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#333">{}</text>"##,
            left - 6.0,
            yy + 14.0,
            esc(label),
            row - 6.0,
            PALETTE[i % PALETTE.len()],
            left + bw + 6.0,
            yy + 14.0,
            esc(shown)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_has_one_polyline_per_series_and_escapes_names() {
        let x = vec!["11-01".to_string(), "11-02".to_string(), "11-03".to_string()];
        let svg =
            lines("c", "DPD <history>", &x, &[("L1".into(), vec![0, 5, 10]), ("L&2".into(), vec![1, 2, 3])]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("DPD &lt;history&gt;") && svg.contains("L&amp;2"));
        // The highest value touches the top margin, zero the axis.
        assert!(svg.contains("56.0,212.0 344.0,118.0 632.0,24.0"), "{svg}");
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = bars("b", "t", &[("M0".into(), 100, "100".into()), ("M1".into(), 50, "50".into())]);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("width=\"300.0\"") && svg.contains("width=\"150.0\""), "{svg}");
    }
}
