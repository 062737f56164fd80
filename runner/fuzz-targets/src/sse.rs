//! The SSE parser, whole and in pieces.

use tokencert_core::sse;

/// Parses `data` as one body and as pieces (sized by its first byte), and
/// checks that both agree and that every offset lies inside the body.
pub fn sse(data: &[u8]) {
    let whole = sse::parse(data);
    let size = data.first().map_or(1, |b| usize::from(b % 16) + 1);
    let pieces = sse::parse_pieces(data.chunks(size));
    assert_eq!(whole.problems, pieces.problems, "problems differ in pieces");
    assert_eq!(whole.comments, pieces.comments, "comments differ in pieces");
    assert_eq!(
        whole.events.len(),
        pieces.events.len(),
        "events differ in pieces"
    );
    for (a, b) in whole.events.iter().zip(&pieces.events) {
        assert_eq!((&a.data, a.start, a.end), (&b.data, b.start, b.end));
        assert!(
            a.start <= a.end && a.end <= data.len(),
            "event {a:?} outside the body"
        );
        // The piece that delivered the event's last byte.
        assert_eq!(b.piece, (a.end - 1) / size, "wrong piece for {b:?}");
    }
    for problem in &whole.problems {
        assert!(
            problem.offset() <= data.len(),
            "{problem:?} outside the body"
        );
        let _ = problem.to_string();
    }
}
