//! Writes a generated cover to a PNG file, to look at the typography by eye.
//!
//! Usage: `cargo run -p bindery-media --example cover -- "Title" "Author" out.png [width]`

use bindery_media::{encode, typographic_cover, ImageFormat};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [title, author, out, rest @ ..] = args.as_slice() else {
        return Err("usage: cover TITLE AUTHOR OUT.png [WIDTH]".into());
    };
    let width = rest.first().map(|w| w.parse()).transpose()?.unwrap_or(1200);
    let author = Some(author.as_str()).filter(|a| !a.is_empty());
    let cover = typographic_cover(title, author, width)?;
    std::fs::write(out, encode(&cover, ImageFormat::Png)?)?;
    println!("wrote {out} ({}×{})", cover.width(), cover.height());
    Ok(())
}
