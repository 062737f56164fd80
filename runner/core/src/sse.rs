//! Strict parser for `text/event-stream` bodies.
//!
//! Follows the WHATWG HTML "server-sent events" interpretation rules over the
//! complete recorded body, and additionally reports every strictness problem
//! with the byte offset (into the original input) where it occurs. Pure: no I/O.

use std::fmt;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `data` field values joined with `"\n"` (the final trailing LF removed, per spec).
    pub data: String,
    /// Value of the last `event:` field in this event, if any (`Some("")` for an empty one).
    pub event_type: Option<String>,
    /// Value of the last `id:` field in this event, if any; ids containing NUL are ignored.
    pub id: Option<String>,
    /// Byte offset of the event's first (non-comment) line.
    pub start: usize,
    /// Byte offset just past the blank line (including its terminator) that dispatched it.
    pub end: usize,
    /// The comment lines among its lines (from the blank line before it to
    /// the one that dispatched it), in order.
    pub comments: Vec<Comment>,
    /// Index of the piece that delivered the last byte of the blank line
    /// that dispatched it: the chunk it arrived in, for [`parse_pieces`];
    /// always 0 for [`parse`], whose body is one piece.
    pub piece: usize,
}

/// A comment line (one starting with `:`) of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of the line.
    pub start: usize,
    /// The line without its terminator, leading `:` included.
    pub line: String,
}

/// A strictness problem found in the body, with the byte offset where it occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Invalid UTF-8; `offset` is the first invalid byte of a run of invalid bytes.
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The body ends inside an event (field lines not followed by a blank line);
    /// such an event is not dispatched.
    UnterminatedEvent {
        /// Offset of the first line of the undispatched event.
        offset: usize,
    },
    /// The body ends in the middle of a line (no line terminator); the line is discarded.
    UnterminatedLine {
        /// Offset of the start of the unterminated line.
        offset: usize,
    },
    /// A U+FEFF byte order mark anywhere other than offset 0.
    MisplacedByteOrderMark {
        /// Offset of the first byte of the mark.
        offset: usize,
    },
    /// A `retry:` value that is empty or not ASCII digits only; the field is ignored.
    InvalidRetry {
        /// Offset of the start of the `retry` line.
        offset: usize,
    },
}

impl Problem {
    /// The byte offset this problem refers to.
    pub fn offset(&self) -> usize {
        match *self {
            Problem::InvalidUtf8 { offset }
            | Problem::UnterminatedEvent { offset }
            | Problem::UnterminatedLine { offset }
            | Problem::MisplacedByteOrderMark { offset }
            | Problem::InvalidRetry { offset } => offset,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            Problem::UnterminatedEvent { offset } => write!(
                f,
                "stream ends inside the event starting at byte {offset} (no blank line follows, so it is not dispatched)"
            ),
            Problem::UnterminatedLine { offset } => write!(
                f,
                "stream ends in the middle of the line starting at byte {offset} (no line terminator)"
            ),
            Problem::MisplacedByteOrderMark { offset } => write!(
                f,
                "byte order mark (U+FEFF) at byte {offset}; one is allowed only at byte 0"
            ),
            Problem::InvalidRetry { offset } => write!(
                f,
                "retry field at byte {offset} is not ASCII digits only; ignored"
            ),
        }
    }
}

/// The result of parsing a complete event-stream body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Events a conforming client would dispatch, in order.
    pub events: Vec<Event>,
    /// Number of comment lines (lines starting with `:`), e.g. keep-alives,
    /// whether or not they belong to a dispatched event.
    pub comments: usize,
    /// Every problem found, in order of offset.
    pub problems: Vec<Problem>,
}

/// Parses a complete `text/event-stream` body. Never panics, whatever the input.
pub fn parse(body: &[u8]) -> Parsed {
    parse_with(body, &[body.len()])
}

/// Parses a complete body that arrived in pieces (e.g. the recorded chunks
/// of a stream), as [`parse`] does the pieces joined, and tells which piece
/// delivered each event ([`Event::piece`]).
pub fn parse_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Parsed {
    let mut body = Vec::new();
    let mut ends = Vec::new();
    for piece in pieces {
        body.extend_from_slice(piece);
        ends.push(body.len());
    }
    parse_with(&body, &ends)
}

/// Parses `body`, whose pieces end at the offsets `ends` (in order).
fn parse_with(body: &[u8], ends: &[usize]) -> Parsed {
    let skip = if body.starts_with(BOM) { BOM.len() } else { 0 };
    let mut problems = encoding_problems(body, skip);
    let mut parser = Parser {
        ends,
        pending: Pending::default(),
        events: Vec::new(),
        comments: 0,
        problems: Vec::new(),
        unterminated_line: None,
    };
    let mut pos = skip;
    while let Some(rest) = body.get(pos..).filter(|rest| !rest.is_empty()) {
        match line_end(rest) {
            Some((len, terminator)) => {
                let next = pos + len + terminator;
                parser.line(&rest[..len], pos, next);
                pos = next;
            }
            None => {
                parser.unterminated_line(rest, pos);
                break;
            }
        }
    }
    parser.finish();
    problems.append(&mut parser.problems);
    // Stable: at equal offsets, encoding problems come before line problems.
    problems.sort_by_key(Problem::offset);
    Parsed {
        events: parser.events,
        comments: parser.comments,
        problems,
    }
}

/// Length of the first line in `rest` and of its terminator (CRLF, LF or lone CR).
fn line_end(rest: &[u8]) -> Option<(usize, usize)> {
    let i = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
    let crlf = rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n');
    Some((i, if crlf { 2 } else { 1 }))
}

/// Invalid UTF-8 runs and misplaced BOMs in `body[skip..]`, in offset order.
fn encoding_problems(body: &[u8], skip: usize) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut offset = skip;
    let mut in_invalid_run = false;
    for chunk in body.get(skip..).unwrap_or_default().utf8_chunks() {
        let valid = chunk.valid();
        for (i, _) in valid.match_indices('\u{FEFF}') {
            problems.push(Problem::MisplacedByteOrderMark { offset: offset + i });
        }
        if !valid.is_empty() {
            in_invalid_run = false;
        }
        offset += valid.len();
        let invalid = chunk.invalid();
        if !invalid.is_empty() {
            if !in_invalid_run {
                problems.push(Problem::InvalidUtf8 { offset });
            }
            in_invalid_run = true;
            offset += invalid.len();
        }
    }
    problems
}

/// Buffers of the event being built (the spec's data and event type buffers).
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    data: String,
    event_type: Option<String>,
    id: Option<String>,
    comments: Vec<Comment>,
}

struct Parser<'a> {
    /// Offsets just past each piece of the body, in order.
    ends: &'a [usize],
    pending: Pending,
    events: Vec<Event>,
    comments: usize,
    problems: Vec<Problem>,
    unterminated_line: Option<usize>,
}

impl Parser<'_> {
    /// Processes one terminated line (without its terminator) starting at `start`;
    /// `next` is the offset just past its terminator.
    fn line(&mut self, line: &[u8], start: usize, next: usize) {
        if line.is_empty() {
            self.dispatch(next);
            return;
        }
        if line.first() == Some(&b':') {
            self.comments += 1;
            self.pending.comments.push(Comment {
                start,
                line: lossy(line),
            });
            return;
        }
        self.pending.start.get_or_insert(start);
        // Splitting the raw bytes is equivalent to splitting the decoded text:
        // ':' and ' ' never occur inside a multi-byte sequence.
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"event" => self.pending.event_type = Some(lossy(value)),
            b"data" => {
                self.pending.data.push_str(&lossy(value));
                self.pending.data.push('\n');
            }
            b"id" if !value.contains(&0) => self.pending.id = Some(lossy(value)),
            b"retry" if value.is_empty() || !value.iter().all(u8::is_ascii_digit) => {
                self.problems.push(Problem::InvalidRetry { offset: start });
            }
            _ => {}
        }
    }

    /// A final line with no terminator: a client never processes it, but if it
    /// is a field line it still belongs to the (unterminated) pending event.
    fn unterminated_line(&mut self, line: &[u8], start: usize) {
        if line.first() != Some(&b':') {
            self.pending.start.get_or_insert(start);
        }
        self.unterminated_line = Some(start);
    }

    /// Blank line: dispatch if the data buffer is non-empty, and reset either way.
    fn dispatch(&mut self, end: usize) {
        let mut pending = std::mem::take(&mut self.pending);
        let Some(start) = pending.start else { return };
        if pending.data.is_empty() {
            return;
        }
        pending.data.pop();
        // `end` is past a line terminator, so at least 1.
        let last = end.saturating_sub(1);
        self.events.push(Event {
            data: pending.data,
            event_type: pending.event_type,
            id: pending.id,
            start,
            end,
            comments: pending.comments,
            piece: self.ends.partition_point(|&e| e <= last),
        });
    }

    /// End of body: report what was left pending (the event start is never after
    /// the unterminated line, so offset order is kept).
    fn finish(&mut self) {
        if let Some(offset) = self.pending.start {
            self.problems.push(Problem::UnterminatedEvent { offset });
        }
        if let Some(offset) = self.unterminated_line {
            self.problems.push(Problem::UnterminatedLine { offset });
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datas(parsed: &Parsed) -> Vec<&str> {
        parsed.events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn line_endings_lf_crlf_cr_and_mixed() {
        for body in [
            "data: a\n\ndata: b\n\n",
            "data: a\r\n\r\ndata: b\r\n\r\n",
            "data: a\r\rdata: b\r\r",
            "data: a\r\n\rdata: b\n\r\n",
        ] {
            let parsed = parse(body.as_bytes());
            assert_eq!(datas(&parsed), ["a", "b"], "{body:?}");
            assert!(parsed.problems.is_empty(), "{body:?}");
        }
    }

    #[test]
    fn multi_line_data_joined_with_lf() {
        let parsed = parse(b"data: a\r\ndata: b\rdata: c\ndata:\n\n");
        assert_eq!(datas(&parsed), ["a\nb\nc\n"]);
    }

    #[test]
    fn only_one_leading_space_stripped() {
        let parsed = parse(b"data:x\n\ndata:  y\n\ndata\n\n");
        assert_eq!(datas(&parsed), ["x", " y", ""]);
    }

    #[test]
    fn comments_counted_not_dispatched() {
        let parsed = parse(b": keep-alive\n:\n\ndata: a\n: mid\n\n");
        assert_eq!(parsed.comments, 3);
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(parsed.events[0].start, 16);
    }

    #[test]
    fn events_keep_their_comment_lines() {
        let parsed = parse(b": open\n\n: stamp=1\ndata: a\n: mid\r\n\ndata: b\n\n");
        let comments: Vec<Vec<(usize, &str)>> = parsed
            .events
            .iter()
            .map(|e| {
                e.comments
                    .iter()
                    .map(|c| (c.start, c.line.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(comments, [vec![(8, ": stamp=1"), (26, ": mid")], vec![]]);
        assert_eq!(parsed.comments, 3);
    }

    #[test]
    fn pieces_tell_which_one_dispatched_each_event() {
        let pieces: [&[u8]; 5] = [b"data: a\n", b"\ndata: b\n\r", b"", b"\n", b"data: c\n\n"];
        let parsed = parse_pieces(pieces);
        assert_eq!(datas(&parsed), ["a", "b", "c"]);
        let at: Vec<_> = parsed.events.iter().map(|e| e.piece).collect();
        assert_eq!(at, [1, 3, 4]);
        // The same events as the joined body, piece aside.
        let joined = parse(&pieces.concat());
        assert!(joined.events.iter().all(|e| e.piece == 0));
        let spans = |p: &Parsed| {
            p.events
                .iter()
                .map(|e| (e.start, e.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(&parsed), spans(&joined));
    }

    #[test]
    fn done_is_an_ordinary_event() {
        let parsed = parse(b"data: {\"x\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(datas(&parsed), ["{\"x\":1}", "[DONE]"]);
        assert_eq!(parsed.events[1].event_type, None);
    }

    #[test]
    fn missing_blank_line_leaves_event_undispatched() {
        let parsed = parse(b"data: a\n\ndata: b\n");
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(parsed.problems, [Problem::UnterminatedEvent { offset: 9 }]);
    }

    #[test]
    fn missing_final_terminator() {
        let parsed = parse(b"data: a\n\ndata: b");
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(
            parsed.problems,
            [
                Problem::UnterminatedEvent { offset: 9 },
                Problem::UnterminatedLine { offset: 9 }
            ]
        );
        // An unterminated comment is neither counted nor an event.
        let parsed = parse(b"data: a\n\n: ping");
        assert_eq!(parsed.comments, 0);
        assert_eq!(parsed.problems, [Problem::UnterminatedLine { offset: 9 }]);
    }

    #[test]
    fn trailing_lone_cr_ends_the_line() {
        let parsed = parse(b"data: a\r\r");
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(parsed.events[0].end, 9);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn leading_bom_skipped_later_bom_reported() {
        let parsed = parse("\u{FEFF}data: a\n\n".as_bytes());
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!((parsed.events[0].start, parsed.events[0].end), (3, 12));
        assert!(parsed.problems.is_empty());

        // A misplaced BOM becomes part of the field name, so the field is ignored.
        let parsed = parse("data: a\n\n\u{FEFF}data: b\n\n".as_bytes());
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(
            parsed.problems,
            [Problem::MisplacedByteOrderMark { offset: 9 }]
        );

        let parsed = parse("\u{FEFF}\u{FEFF}data: a\n\n".as_bytes());
        assert_eq!(
            parsed.problems,
            [Problem::MisplacedByteOrderMark { offset: 3 }]
        );
    }

    #[test]
    fn invalid_utf8_in_comment_and_data() {
        let parsed = parse(b": x\xC3\ndata: a\xFFb\n\n");
        assert_eq!(parsed.comments, 1);
        assert_eq!(datas(&parsed), ["a\u{FFFD}b"]);
        assert_eq!(
            parsed.problems,
            [
                Problem::InvalidUtf8 { offset: 3 },
                Problem::InvalidUtf8 { offset: 12 }
            ]
        );
        // One problem per run of invalid bytes.
        let parsed = parse(b"data: \xFF\xFE\n\n");
        assert_eq!(datas(&parsed), ["\u{FFFD}\u{FFFD}"]);
        assert_eq!(parsed.problems, [Problem::InvalidUtf8 { offset: 6 }]);
    }

    #[test]
    fn empty_and_blank_only_bodies() {
        assert_eq!(parse(b""), Parsed::default());
        assert_eq!(parse(b"\n\r\n\r\n\n"), Parsed::default());
        assert_eq!(parse(BOM), Parsed::default());
    }

    #[test]
    fn event_and_id_fields() {
        let parsed = parse(
            b"event: a\nevent: delta\nid: 1\nid: 7\ndata: x\n\ndata: y\nid: bad\0\n\nid: 9\nevent: z\n\n",
        );
        assert_eq!(parsed.events.len(), 2);
        assert_eq!(parsed.events[0].event_type.as_deref(), Some("delta"));
        assert_eq!(parsed.events[0].id.as_deref(), Some("7"));
        assert_eq!(parsed.events[1].event_type, None);
        assert_eq!(parsed.events[1].id, None);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn retry_must_be_digits() {
        let parsed = parse(b"retry: 3000\nretry: 10x\ndata: a\nretry:\nretry:  5\n\n");
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(
            parsed.problems,
            [
                Problem::InvalidRetry { offset: 12 },
                Problem::InvalidRetry { offset: 31 },
                Problem::InvalidRetry { offset: 38 }
            ]
        );
    }

    #[test]
    fn unknown_fields_ignored() {
        let parsed = parse(b"foo: bar\ndata: a\n\nfoo\n\n");
        assert_eq!(datas(&parsed), ["a"]);
        assert_eq!(parsed.events[0].start, 0);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn two_event_offsets() {
        let parsed = parse(b"data: a\n\nevent: x\ndata: b\n\n");
        let spans: Vec<_> = parsed.events.iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(spans, [(0, 9), (9, 27)]);
    }

    #[test]
    fn multibyte_character_intact() {
        let parsed = parse("data: 😀 é\n\n".as_bytes());
        assert_eq!(datas(&parsed), ["😀 é"]);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn display_quotes_offset() {
        assert_eq!(
            Problem::InvalidUtf8 { offset: 1234 }.to_string(),
            "invalid UTF-8 at byte 1234"
        );
        assert!(
            Problem::InvalidRetry { offset: 5 }
                .to_string()
                .contains("byte 5")
        );
    }

    #[test]
    fn binary_input_does_not_panic() {
        let body: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let parsed = parse(&body);
        assert!(
            parsed
                .problems
                .windows(2)
                .all(|w| w[0].offset() <= w[1].offset())
        );
    }

    #[test]
    fn well_formed_streams_round_trip() {
        let payloads = [
            "x",
            "",
            " leading space",
            "[DONE]",
            "{\"choices\":[{\"delta\":{\"content\":\"h\u{e9} 😀\"}}]}",
            "multi\nline",
            "\n",
            "a\n\nb",
            "trailing:colon:",
        ];
        // Order matters for the mixed mode: a lone CR is never followed by a lone
        // LF, which would read as one CRLF terminator.
        let endings = ["\n", "\r", "\r\n"];
        let mut cases = 0;
        for mode in 0..=endings.len() {
            for rotation in 0..payloads.len() {
                let order: Vec<&str> = payloads
                    .iter()
                    .cycle()
                    .skip(rotation)
                    .take(payloads.len())
                    .copied()
                    .collect();
                let mut body = String::new();
                let mut n = 0;
                // Mode 3 mixes endings line by line.
                let mut eol = || {
                    n += 1;
                    endings[if mode < endings.len() {
                        mode
                    } else {
                        n % endings.len()
                    }]
                };
                for (i, payload) in order.iter().enumerate() {
                    if i % 2 == 0 {
                        body += &format!(": keep-alive{}", eol());
                        body += &format!("event: message{}", eol());
                    }
                    for line in payload.split('\n') {
                        body += &format!("data: {line}{}", eol());
                    }
                    body += eol();
                }
                let parsed = parse(body.as_bytes());
                assert_eq!(datas(&parsed), order, "{body:?}");
                assert!(parsed.problems.is_empty(), "{body:?}");
                assert_eq!(parsed.comments, order.len().div_ceil(2));
                for event in &parsed.events {
                    let last = body.as_bytes().get(event.end - 1).copied();
                    assert!(matches!(last, Some(b'\n' | b'\r')), "{body:?}");
                }
                cases += 1;
            }
        }
        assert_eq!(cases, 36);
    }
}
