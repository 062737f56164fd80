//! The reference service's `: sched_ns=` stamps, read back from a recorded
//! exchange with the arrival time of each stamped event. Pure.

use tokencert_core::evidence::Exchange;
use tokencert_core::sse;

/// What precedes the nanoseconds of a stamp line; the same bytes as
/// `tokencert_reference::STAMP_PREFIX` (the driver does not depend on the
/// reference service outside its tests).
pub const STAMP_PREFIX: &str = ": sched_ns=";

/// One stamped event of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The stamp: when the server scheduled the event, in nanoseconds since
    /// it admitted the request (the server's clock).
    pub sched_ns: u64,
    /// When the event arrived: the time of the recorded chunk that
    /// delivered the last byte of the blank line dispatching it, in nanoseconds since the
    /// request was sent (the client's clock), as the metrics time events.
    pub arrival_ns: u64,
    /// Byte offset of the stamp line in the body.
    pub offset: usize,
}

/// The stamped events of an exchange's body, in order, read by the strict
/// SSE parser ([`tokencert_core::sse::parse_pieces`] over the recorded
/// chunks). A dispatched event is stamped when its first line is a comment
/// that is exactly [`STAMP_PREFIX`] and an unsigned decimal integer; a line
/// that only resembles a stamp, a stamp elsewhere in the event, and an
/// event the body does not finish (no blank line follows) are left out.
///
/// The two clocks differ by an unknown offset (send to admission), so
/// timing error is measured on differences: for events `i` and `j`,
/// `(arrival_j − arrival_i) − (sched_j − sched_i)` is the client's error
/// on that interval plus the server's sending delay.
pub fn stamps(exchange: &Exchange) -> Vec<Stamp> {
    let parsed = sse::parse_pieces(exchange.chunks.iter().map(|c| c.bytes.as_slice()));
    parsed
        .events
        .iter()
        .filter_map(|event| {
            let first = event.comments.first().filter(|c| c.start < event.start)?;
            Some(Stamp {
                sched_ns: parse_stamp(&first.line)?,
                arrival_ns: exchange.chunks.get(event.piece)?.t_ns,
                offset: first.start,
            })
        })
        .collect()
}

/// The nanoseconds of a stamp line (without its line end).
fn parse_stamp(line: &str) -> Option<u64> {
    let digits = line.strip_prefix(STAMP_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokencert_core::evidence::Chunk;

    fn exchange(chunks: &[(u64, &str)]) -> Exchange {
        Exchange {
            case: "load".into(),
            method: "POST".into(),
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            request_body: Vec::new(),
            request_elided: None,
            response: None,
            chunks: chunks
                .iter()
                .map(|&(t_ns, text)| Chunk {
                    t_ns,
                    bytes: text.as_bytes().to_vec(),
                })
                .collect(),
            outcome: None,
            end_ns: None,
            attempt: 0,
            scheduled_ns: None,
            sent_ns: None,
            plan_index: None,
        }
    }

    #[test]
    fn each_stamp_takes_the_time_of_the_chunk_ending_its_event() {
        let ex = exchange(&[
            (10, ": tokencert-reference\n\n: sched_ns=500\ndata: {}\n"),
            (20, "\n: sched_ns=900\r\ndata: {}\r\n\r\n: sched_ns=1300\n"),
            (30, "data: [DONE]\n\n"),
        ]);
        let got: Vec<_> = stamps(&ex)
            .iter()
            .map(|s| (s.sched_ns, s.arrival_ns))
            .collect();
        assert_eq!(got, [(500, 20), (900, 20), (1300, 30)]);
        assert_eq!(stamps(&ex)[0].offset, 23);
    }

    #[test]
    fn unfinished_events_and_lookalikes_are_left_out() {
        let ex = exchange(&[(
            5,
            ": sched_ns=\n\n: sched_ns=-1\n\n: sched_ns=7x\n\ndata: x\n: sched_ns=8\n\n: sched_ns=9\ndata: y\n",
        )]);
        assert!(stamps(&ex).is_empty(), "{:?}", stamps(&ex));
    }
}
