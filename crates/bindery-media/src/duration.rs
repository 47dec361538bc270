//! Playing time of the audio streams that narration produces, read from the bytes.
//!
//! The duration is stored next to each narration (players show it, feeds need
//! it), and reading it back from the stream is exact and independent of how
//! long the encoders took. Both parsers are deliberately small: they accept the
//! streams ffmpeg writes (Opus in Ogg, MPEG layer III) and return `None` for
//! anything else instead of guessing.

/// Opus always counts granule positions in 48 kHz samples, whatever the input rate.
const OPUS_GRANULE_RATE: u64 = 48_000;

/// Duration of an Ogg Opus stream: the last page's granule position minus the
/// encoder's pre-skip (from the `OpusHead` header), at 48 kHz.
pub fn ogg_opus_duration_ms(bytes: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    let mut pre_skip: Option<u64> = None;
    let mut last_granule: Option<u64> = None;
    while pos < bytes.len() {
        let header = bytes.get(pos..pos + 27)?;
        if &header[..4] != b"OggS" {
            return None;
        }
        let granule = i64::from_le_bytes(header[6..14].try_into().ok()?);
        let segments = usize::from(header[26]);
        let table = bytes.get(pos + 27..pos + 27 + segments)?;
        let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
        let body_start = pos + 27 + segments;
        let body = bytes.get(body_start..body_start + body_len)?;
        if pre_skip.is_none() {
            // The first page carries the identification header: "OpusHead", version, channels, pre-skip.
            if body.len() < 19 || &body[..8] != b"OpusHead" {
                return None;
            }
            pre_skip = Some(u64::from(u16::from_le_bytes([body[10], body[11]])));
        }
        // A granule of -1 marks a page on which no packet ends; it carries no timing.
        if granule >= 0 {
            last_granule = Some(granule as u64);
        }
        pos = body_start + body_len;
    }
    let samples = last_granule?.saturating_sub(pre_skip?);
    Some(samples * 1000 / OPUS_GRANULE_RATE)
}

/// Duration of an MPEG audio layer III stream, by walking its frames.
///
/// A leading ID3v2 tag is skipped, as is the Xing/Info frame encoders put
/// first (it holds metadata, not sound). Walking stops at the first byte that
/// is not a frame header, such as a trailing ID3v1 tag.
pub fn mp3_duration_ms(bytes: &[u8]) -> Option<u64> {
    let mut pos = id3v2_len(bytes);
    let mut samples = 0u64;
    let mut rate = 0u32;
    let mut frames = 0u32;
    while let Some(frame) = bytes.get(pos..pos + 4).and_then(parse_mp3_header) {
        let end = (pos + frame.len).min(bytes.len());
        let head = &bytes[pos..end.min(pos + 64)];
        let is_info = frames == 0 && (contains(head, b"Xing") || contains(head, b"Info"));
        if !is_info {
            samples += u64::from(frame.samples);
        }
        rate = frame.rate;
        frames += 1;
        pos += frame.len;
    }
    if frames == 0 || rate == 0 {
        return None;
    }
    Some(samples * 1000 / u64::from(rate))
}

struct Mp3Frame {
    len: usize,
    samples: u32,
    rate: u32,
}

fn parse_mp3_header(h: &[u8]) -> Option<Mp3Frame> {
    const RATES_V1: [u32; 16] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0];
    const RATES_V2: [u32; 16] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0];
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    let layer = (h[1] >> 1) & 0b11; // 1 = layer III
    if version == 1 || layer != 1 {
        return None;
    }
    let bitrate_kbps = if version == 3 { RATES_V1 } else { RATES_V2 }[usize::from(h[2] >> 4)];
    let base_rate = match (h[2] >> 2) & 0b11 {
        0 => 44_100,
        1 => 48_000,
        2 => 32_000,
        _ => return None,
    };
    let rate = match version {
        3 => base_rate,
        2 => base_rate / 2,
        _ => base_rate / 4,
    };
    if bitrate_kbps == 0 {
        return None;
    }
    let padding = usize::from((h[2] >> 1) & 1);
    let (coefficient, samples) = if version == 3 { (144_000, 1152) } else { (72_000, 576) };
    let len = (coefficient * bitrate_kbps / rate) as usize + padding;
    Some(Mp3Frame { len, samples, rate })
}

fn id3v2_len(bytes: &[u8]) -> usize {
    match bytes.get(..10) {
        Some(h) if &h[..3] == b"ID3" => {
            let size = h[6..10].iter().fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
            let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
            10 + size + footer
        }
        _ => 0,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
