//! An RGB raster with the few primitives a line chart needs (rectangles, anti-aliased
//! thick and dashed lines, dots, bitmap text) and a PNG encoder.
//!
//! ```text
//!   draw calls ──▶ Canvas (w × h × RGB8) ──▶ scanlines (filter 0) ──▶ zlib ──▶ PNG chunks
//! ```
//!
//! Written by hand so that charts need no system library, font file or drawing crate: the
//! only dependency is `flate2` (already built for Parquet) for the IDAT stream and its
//! CRC-32 for the chunk checksums.

use super::font;
use std::io::Write;
use std::path::Path;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// `self` moved towards `other` by `t` in 0..=1.
    pub fn mix(self, other: Rgb, t: f64) -> Rgb {
        let m = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

/// Horizontal anchor of a text run.
#[derive(Debug, Clone, Copy)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A `width × height` RGB image, origin top-left, y growing downwards.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    #[cfg(test)]
    pub fn width(&self) -> usize {
        self.width
    }

    #[cfg(test)]
    pub fn height(&self) -> usize {
        self.height
    }

    /// Blends `c` over the pixel at (`x`, `y`) with opacity `alpha`; off-canvas is ignored.
    fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f64) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height || alpha <= 0.0 {
            return;
        }
        let p = &mut self.pixels[y as usize * self.width + x as usize];
        *p = p.mix(c, alpha.min(1.0));
    }

    /// Fills the pixels `x0..x1 × y0..y1` (clipped).
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0.max(0)..y1.min(self.height as i64) {
            for x in x0.max(0)..x1.min(self.width as i64) {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// A one-pixel-wide axis-aligned outline of `x0..=x1 × y0..=y1`.
    pub fn stroke_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        self.fill_rect(x0, y0, x1 + 1, y0 + 1, c);
        self.fill_rect(x0, y1, x1 + 1, y1 + 1, c);
        self.fill_rect(x0, y0, x0 + 1, y1 + 1, c);
        self.fill_rect(x1, y0, x1 + 1, y1 + 1, c);
    }

    /// An anti-aliased segment of `width` pixels between two points (pixel centres are at
    /// `i + 0.5`): each pixel gets the coverage of its distance to the segment.
    pub fn line(&mut self, (ax, ay): (f64, f64), (bx, by): (f64, f64), width: f64, c: Rgb) {
        let r = width / 2.0;
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let x0 = (ax.min(bx) - r - 1.0).floor() as i64;
        let x1 = (ax.max(bx) + r + 1.0).ceil() as i64;
        let y0 = (ay.min(by) - r - 1.0).floor() as i64;
        let y1 = (ay.max(by) + r + 1.0).ceil() as i64;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 == 0.0 {
                    0.0
                } else {
                    (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
                };
                let d = ((px - ax - t * dx).powi(2) + (py - ay - t * dy).powi(2)).sqrt();
                self.blend(x, y, c, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// A polyline; with `dash = Some((on, off))` it is drawn dashed, the pattern running on
    /// across vertices.
    pub fn polyline(
        &mut self,
        points: &[(f64, f64)],
        width: f64,
        c: Rgb,
        dash: Option<(f64, f64)>,
    ) {
        let Some((on, off)) = dash else {
            for w in points.windows(2) {
                self.line(w[0], w[1], width, c);
            }
            return;
        };
        let mut phase = 0.0; // distance into the current on+off period
        for w in points.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let at = |s: f64| (a.0 + (b.0 - a.0) * s / len, a.1 + (b.1 - a.1) * s / len);
            let mut s = 0.0;
            while s < len {
                let step = if phase < on {
                    on - phase
                } else {
                    on + off - phase
                };
                let end = (s + step).min(len);
                if phase < on {
                    self.line(at(s), at(end), width, c);
                }
                phase = (phase + end - s) % (on + off);
                s = end;
            }
        }
    }

    /// A filled anti-aliased dot of radius `r` centred on (`x`, `y`).
    pub fn dot(&mut self, (x, y): (f64, f64), r: f64, c: Rgb) {
        self.line((x, y), (x, y), 2.0 * r, c);
    }

    /// Width in pixels of `text` at `scale`.
    pub fn text_width(text: &str, scale: usize) -> usize {
        text.chars().count() * font::SIZE * scale
    }

    /// Draws `text` with its top edge at `y`, anchored at `x` by `align`; each font pixel
    /// becomes a `scale × scale` block.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: usize, align: Align, c: Rgb) {
        let w = Self::text_width(text, scale) as i64;
        let mut cx = match align {
            Align::Left => x,
            Align::Center => x - w / 2,
            Align::Right => x - w,
        };
        let s = scale as i64;
        for ch in text.chars() {
            for (row, bits) in font::glyph(ch).iter().enumerate() {
                for col in 0..font::SIZE {
                    if bits >> col & 1 == 1 {
                        let (px, py) = (cx + col as i64 * s, y + row as i64 * s);
                        self.fill_rect(px, py, px + s, py + s, c);
                    }
                }
            }
            cx += font::SIZE as i64 * s;
        }
    }

    /// The image as PNG bytes (8-bit RGB, no interlace).
    pub fn to_png(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.pixels.chunks(self.width) {
            raw.push(0); // filter type: none
            for p in row {
                raw.extend_from_slice(&[p.0, p.1, p.2]);
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).expect("writing to a Vec cannot fail");
        let idat = z.finish().expect("writing to a Vec cannot fail");

        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&(self.width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.height as u32).to_be_bytes());
        // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IHDR", &ihdr[..]),
            (b"IDAT", &idat[..]),
            (b"IEND", &[][..]),
        ] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            let mut crc = flate2::Crc::new();
            crc.update(&png[start..]);
            png.extend_from_slice(&crc.sum().to_be_bytes());
        }
        png
    }

    /// Writes the image as a PNG file.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_png())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_signature_header_and_valid_checksums() {
        let mut c = Canvas::new(7, 3, Rgb::WHITE);
        c.fill_rect(0, 0, 2, 2, Rgb::BLACK);
        let png = c.to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 7);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 3);
        // CRC-32 of "IEND" with no data, from the PNG specification.
        assert_eq!(&png[png.len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
        // The pixels survive a zlib round trip: row 0 = filter byte, 2 black, 5 white.
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&png[41..41 + idat_len]),
            &mut raw,
        )
        .unwrap();
        assert_eq!(raw.len(), 3 * (1 + 7 * 3));
        assert_eq!(&raw[..7], &[0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&raw[7..10], &[255, 255, 255]);
    }

    #[test]
    fn text_lights_pixels_inside_its_box_only() {
        let mut c = Canvas::new(40, 20, Rgb::WHITE);
        c.text(20, 2, "AB", 1, Align::Center, Rgb::BLACK);
        let dark: Vec<(usize, usize)> = (0..20)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .filter(|&(x, y)| c.pixels[y * 40 + x] == Rgb::BLACK)
            .collect();
        assert!(!dark.is_empty());
        assert!(
            dark.iter()
                .all(|&(x, y)| (12..28).contains(&x) && (2..10).contains(&y))
        );
    }
}
