//! Whether a zlib (Flate) stream is whole, without keeping what it inflates to.
//!
//! MuPDF inflates a damaged stream up to the damage and carries on as if the
//! stream had ended there; this module answers the one question MuPDF does
//! not: did the data reach its end intact?

use flate2::{Decompress, FlushDecompress, Status};

/// True when `data` inflates to its final block without error and, when
/// the zlib checksum (Adler-32) follows, to what the checksum says. Garbled
/// bytes often still inflate, to garbage that happens to end, so without
/// the checksum a corrupt middle would pass. A missing checksum is not
/// damage (some writers leave it out, and MuPDF reads such streams in full);
/// nor is data after it (a stray end of line inside the stream).
pub(crate) fn is_whole(data: &[u8]) -> bool {
    // A stream without a zlib header is raw deflate, which MuPDF also reads.
    let (zlib, body) = match data {
        [cmf, flg, rest @ ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => (true, rest),
        _ => (false, data),
    };
    let mut inflater = Decompress::new(false);
    let mut adler = Adler32::default();
    // What the stream inflates to is thrown away a buffer at a time, so a
    // stream that inflates to gigabytes costs time (bounded by the sandbox's
    // deadline) but no memory.
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        let before = (inflater.total_in(), inflater.total_out());
        let status = inflater.decompress(&body[before.0 as usize..], &mut scratch, FlushDecompress::None);
        adler.update(&scratch[..(inflater.total_out() - before.1) as usize]);
        match status {
            Ok(Status::StreamEnd) => break,
            // No progress with a whole free buffer: the input is used up
            // before the final block, so the stream breaks off.
            Ok(_) if (inflater.total_in(), inflater.total_out()) == before => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    match body.get(inflater.total_in() as usize..).and_then(|rest| rest.get(..4)) {
        Some(stated) if zlib => stated == adler.value().to_be_bytes(),
        _ => true,
    }
}

/// The zlib checksum (RFC 1950), computed as the data goes by.
struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Self { a: 1, b: 0 }
    }
}

impl Adler32 {
    const MOD: u32 = 65_521;

    fn update(&mut self, bytes: &[u8]) {
        // 5552 bytes is the most that can be summed before `b` could overflow 32 bits.
        for chunk in bytes.chunks(5552) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= Self::MOD;
            self.b %= Self::MOD;
        }
    }

    fn value(&self) -> u32 {
        self.b << 16 | self.a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn tells_whole_streams_from_broken_ones() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| format!("BT ({i}) Tj ET\n").into_bytes()).collect();
        let whole = zlib(&text);
        assert!(is_whole(&whole));
        assert!(is_whole(&whole[..whole.len() - 4]), "a missing checksum costs nothing");
        let mut padded = whole.clone();
        padded.extend_from_slice(b"\r\n");
        assert!(is_whole(&padded), "bytes after the final block cost nothing");
        assert!(is_whole(&whole[2..]), "raw deflate without the zlib header");
        assert!(!is_whole(&whole[..whole.len() / 2]), "cut short");
        let mut garbled = whole.clone();
        let middle = garbled.len() / 2;
        garbled[middle..middle + 64].iter_mut().for_each(|b| *b = !*b);
        assert!(!is_whole(&garbled), "corrupt in the middle");
        let mut wrong_sum = whole.clone();
        *wrong_sum.last_mut().unwrap() ^= 1;
        assert!(!is_whole(&wrong_sum), "a checksum that disagrees");
        assert!(!is_whole(b""));
        assert!(is_whole(&zlib(b"")));
        let mut sum = Adler32::default();
        sum.update(b"Wikipedia");
        assert_eq!(sum.value(), 0x11E6_0398, "RFC 1950's checksum");
    }
}
