//! Newline-delimited framing with a cap on the size of one message.

use std::io::{self, BufRead, Write};

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The stream ended before any byte of a new line.
    Eof,
    /// A line is in the buffer, without its `\n`; `terminated` is false for a last
    /// line that ended with the stream instead of a newline.
    Line {
        /// Whether a `\n` ended it.
        terminated: bool,
    },
    /// A line longer than the cap; it was read to its end and discarded.
    TooLong {
        /// Its length in bytes (without the `\n`).
        len: u64,
    },
}

/// Reads one line into `buf` (cleared first). A line over `max` bytes is consumed and
/// discarded, never held in memory.
pub fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Read> {
    buf.clear();
    let mut len: u64 = 0;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if too_long {
                Read::TooLong { len }
            } else if len == 0 {
                Read::Eof
            } else {
                Read::Line { terminated: false }
            });
        }
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        len += part.len() as u64;
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
                buf.shrink_to(64 * 1024);
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(if too_long {
                Read::TooLong { len }
            } else {
                Read::Line { terminated: true }
            });
        }
    }
}

/// Writes one line (`line` + `\n` when `terminated`) and flushes.
pub fn write_line(w: &mut impl Write, line: &[u8], terminated: bool) -> io::Result<()> {
    w.write_all(line)?;
    if terminated {
        w.write_all(b"\n")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_caps() {
        let data = b"ab\n\ncdefgh\nxyz\nlast";
        let mut r = io::BufReader::with_capacity(2, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut r, &mut buf, 4).unwrap(),
            Read::Line { terminated: true }
        );
        assert_eq!(buf, b"ab");
        assert_eq!(
            read_line(&mut r, &mut buf, 4).unwrap(),
            Read::Line { terminated: true }
        );
        assert_eq!(buf, b"");
        assert_eq!(
            read_line(&mut r, &mut buf, 4).unwrap(),
            Read::TooLong { len: 6 }
        );
        assert_eq!(
            read_line(&mut r, &mut buf, 4).unwrap(),
            Read::Line { terminated: true }
        );
        assert_eq!(buf, b"xyz");
        assert_eq!(
            read_line(&mut r, &mut buf, 4).unwrap(),
            Read::Line { terminated: false }
        );
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf, 4).unwrap(), Read::Eof);
    }
}
