//! The report's SVG charts read back as what they draw: texts, plot-area frames, lines and
//! dots with their pixel positions, so that tests can check a chart's content.

use std::path::Path;

/// What a chart's SVG draws, in pixels: its size, texts, plot-area frames, lines, dots
/// and filled boxes. Colours are as the SVG writes them (`#RRGGBB`).
pub struct Svg {
    pub size: (f64, f64),
    /// (x, y, text)
    pub texts: Vec<(f64, f64, String)>,
    /// Plot areas: the unfilled rectangles drawn in the axis colour, (x0, y0, x1, y1).
    pub frames: Vec<(f64, f64, f64, f64)>,
    /// (stroke, points)
    pub lines: Vec<(String, Vec<(f64, f64)>)>,
    /// (fill, centre)
    pub dots: Vec<(String, (f64, f64))>,
}

/// The frame colour of the plot areas (the charts' axis grey).
const FRAME: &str = "#404040";

pub fn svg(path: &Path) -> Svg {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    let num = |n: roxmltree::Node, a: &str| -> f64 {
        n.attribute(a)
            .unwrap_or_else(|| panic!("no {a}"))
            .parse()
            .unwrap()
    };
    let mut out = Svg {
        size: (num(root, "width"), num(root, "height")),
        texts: Vec::new(),
        frames: Vec::new(),
        lines: Vec::new(),
        dots: Vec::new(),
    };
    for n in root.descendants().filter(|n| n.is_element()) {
        let attr = |a: &str| n.attribute(a).unwrap_or("").to_string();
        match n.tag_name().name() {
            "text" => {
                let t = n.text().unwrap_or("").trim().to_string();
                out.texts.push((num(n, "x"), num(n, "y"), t));
            }
            "rect" if attr("fill") == "none" && attr("stroke") == FRAME => {
                let (x, y) = (num(n, "x"), num(n, "y"));
                out.frames
                    .push((x, y, x + num(n, "width"), y + num(n, "height")));
            }
            "polyline" => {
                let points = attr("points")
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                out.lines.push((attr("stroke"), points));
            }
            "circle" => out.dots.push((attr("fill"), (num(n, "cx"), num(n, "cy")))),
            _ => {}
        }
    }
    out
}

impl Svg {
    pub fn text(&self, t: &str) -> Option<(f64, f64)> {
        self.texts.iter().find(|x| x.2 == t).map(|x| (x.0, x.1))
    }

    pub fn has_text(&self, t: &str) -> bool {
        self.text(t).is_some()
    }

    /// The colour of a legend entry: the line ending just left of its label.
    pub fn legend_colour(&self, label: &str) -> String {
        let (x, y) = self
            .text(label)
            .unwrap_or_else(|| panic!("no legend `{label}`"));
        let bottom = self.frames.iter().map(|f| f.3).fold(0.0, f64::max);
        assert!(y > bottom, "legend `{label}` is not below the plot areas");
        self.lines
            .iter()
            .filter(|(_, p)| {
                p.iter()
                    .all(|&(px, py)| px < x && px > x - 40.0 && (py - y).abs() < 1.0)
            })
            .map(|(c, _)| c.clone())
            .next()
            .unwrap_or_else(|| panic!("no legend mark left of `{label}`"))
    }

    /// The lines of `colour` inside `frame`.
    pub fn lines_in(&self, colour: &str, frame: (f64, f64, f64, f64)) -> Vec<&Vec<(f64, f64)>> {
        let inside =
            |&(x, y): &(f64, f64)| x >= frame.0 && x <= frame.2 && y >= frame.1 && y <= frame.3;
        self.lines
            .iter()
            .filter(|(c, p)| c == colour && p.iter().any(inside))
            .inspect(|(_, p)| assert!(p.iter().all(inside), "a line leaves its plot area"))
            .map(|(_, p)| p)
            .collect()
    }

    /// The y pixel of `value` on the y axis left of `frame` (its labels within 80 pixels),
    /// from two of its tick labels.
    pub fn y_of(&self, value: f64, frame: (f64, f64, f64, f64)) -> f64 {
        let ticks: Vec<(f64, f64)> = self
            .texts
            .iter()
            .filter(|t| t.0 < frame.0 && t.0 > frame.0 - 80.0)
            .filter(|t| t.1 >= frame.1 && t.1 <= frame.3)
            .filter_map(|t| Some((t.2.parse::<f64>().ok()?, t.1)))
            .collect();
        assert!(ticks.len() >= 2, "fewer than two y ticks: {ticks:?}");
        let ((v0, y0), (v1, y1)) = (ticks[0], ticks[ticks.len() - 1]);
        assert!(
            v1 > v0 && y1 < y0,
            "a higher tick is drawn higher: {ticks:?}"
        );
        y0 + (value - v0) / (v1 - v0) * (y1 - y0)
    }
}
