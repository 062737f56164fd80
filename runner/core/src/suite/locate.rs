//! Maps a JSON pointer into a YAML document back to the line it came from,
//! so a schema violation can name the line of the offending field.

use std::collections::HashMap;

use granit_parser::{Event, Parser};

/// Line numbers (1-based) of every node in a YAML document, by JSON pointer.
#[derive(Debug, Default)]
pub struct LineMap {
    lines: HashMap<String, usize>,
}

enum Frame {
    Mapping { key: Option<String> },
    Sequence { next: usize },
}

impl LineMap {
    /// Builds the map; a document that does not parse yields an empty map
    /// (the deserializer reports the syntax error with its own location).
    pub fn new(yaml: &str) -> Self {
        let mut lines = HashMap::new();
        let mut stack: Vec<(Frame, String)> = Vec::new();
        for item in Parser::new_from_str(yaml) {
            let Ok((event, span)) = item else { break };
            let line = span.start.line();
            match event {
                Event::Scalar(..) | Event::Alias(..) => {
                    let text = match &event {
                        Event::Scalar(value, ..) => Some(value.to_string()),
                        _ => None,
                    };
                    if let Some((Frame::Mapping { key }, base)) = stack.last_mut()
                        && key.is_none()
                    {
                        let name = text.unwrap_or_default();
                        lines.entry(child(base, &name)).or_insert(line);
                        *key = Some(name);
                        continue;
                    }
                    if let Some(path) = next_path(&mut stack) {
                        lines.entry(path).or_insert(line);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = next_path(&mut stack).unwrap_or_default();
                    lines.entry(path.clone()).or_insert(line);
                    let frame = if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping { key: None }
                    } else {
                        Frame::Sequence { next: 0 }
                    };
                    stack.push((frame, path));
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Self { lines }
    }

    /// The deepest field that starts on `line`: where a typed read, which
    /// knows only the line it failed on, went wrong.
    pub fn field_at(&self, line: usize) -> Option<&str> {
        self.lines
            .iter()
            .filter(|(_, l)| **l == line)
            .map(|(pointer, _)| pointer.as_str())
            .max_by_key(|pointer| (pointer.matches('/').count(), *pointer))
    }

    /// The line of the node at `pointer`, or of its nearest ancestor that
    /// exists (a missing field is reported at the object that lacks it).
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut path = pointer;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            path = &path[..path.rfind('/')?];
        }
    }
}

/// The path of the value that comes next in the innermost container, and
/// advances that container past it.
fn next_path(stack: &mut [(Frame, String)]) -> Option<String> {
    let (frame, base) = stack.last_mut()?;
    match frame {
        Frame::Mapping { key } => key.take().map(|k| child(base, &k)),
        Frame::Sequence { next } => {
            let path = child(base, &next.to_string());
            *next += 1;
            Some(path)
        }
    }
}

fn child(base: &str, segment: &str) -> String {
    let escaped = segment.replace('~', "~0").replace('/', "~1");
    format!("{base}/{escaped}")
}

#[cfg(test)]
mod tests {
    use super::LineMap;

    const DOC: &str = "id: a.b\nrequest:\n  endpoint: chat\n  body:\n    messages: [{role: user}]\nchecks:\n  - status: 200\n  - sse_well_formed\n";

    #[test]
    fn finds_keys_sequence_items_and_flow_nodes() {
        let map = LineMap::new(DOC);
        assert_eq!(map.line_of("/id"), Some(1));
        assert_eq!(map.line_of("/request/endpoint"), Some(3));
        assert_eq!(map.line_of("/request/body/messages/0/role"), Some(5));
        assert_eq!(map.line_of("/checks/0/status"), Some(7));
        assert_eq!(map.line_of("/checks/1"), Some(8));
    }

    #[test]
    fn missing_field_falls_back_to_its_parent() {
        let map = LineMap::new(DOC);
        assert_eq!(map.line_of("/request/body/model"), Some(4));
        assert_eq!(map.line_of(""), Some(1));
    }

    #[test]
    fn the_deepest_field_on_a_line_is_found() {
        let map = LineMap::new(DOC);
        assert_eq!(map.field_at(3), Some("/request/endpoint"));
        assert_eq!(map.field_at(5), Some("/request/body/messages/0/role"));
        assert_eq!(map.field_at(99), None);
    }
}
