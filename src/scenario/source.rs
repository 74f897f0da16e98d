//! Where things are written in a scenario file. serde_yaml reads the
//! document but keeps no positions, so this second pass walks the same text
//! with yaml-rust2's event parser and records, for every path, where its
//! key and its value start. It also measures how large the document becomes
//! once aliases are expanded, so that an alias bomb is refused before
//! anything expands it. It never interprets values.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

use super::diagnostic::{Anchor, Path, Pos};

/// Where a node's key (for a mapping entry) and value begin.
#[derive(Clone, Copy, Debug)]
struct NodePos {
    key: Option<Pos>,
    value: Pos,
    /// A mapping or a list: a problem with it as a whole reads best at its
    /// key, not at its first entry.
    container: bool,
}

/// A key written twice in one mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub path: Path,
    pub first: Pos,
    pub again: Pos,
}

/// Positions of every node, by path.
#[derive(Debug, Default)]
pub struct SourceMap {
    nodes: HashMap<Path, NodePos>,
    /// Keys written twice, in document order.
    pub duplicates: Vec<Duplicate>,
}

/// Why the source map could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The YAML does not parse (serde_yaml's own message is preferred).
    Syntax { message: String, pos: Pos },
    /// Aliases expand the document beyond the node limit.
    TooLarge { limit: u64, pos: Pos },
}

enum Frame {
    Map {
        path: Path,
        key: Option<(String, Pos)>,
        seen: HashMap<String, Pos>,
    },
    Seq {
        path: Path,
        next: usize,
    },
    /// Inside a mapping key that is itself a collection (rare YAML).
    ComplexKey {
        depth: usize,
        pos: Pos,
    },
}

struct Builder {
    map: SourceMap,
    stack: Vec<Frame>,
    /// Nodes in the document with every alias expanded.
    expanded: u64,
    /// Expanded size of each anchored node, by anchor id.
    anchors: HashMap<usize, u64>,
    /// Anchored collections still open: (anchor id, `expanded` at start).
    open: Vec<(usize, u64)>,
}

/// The name a collection used as a mapping key gets in paths.
pub const COMPLEX_KEY: &str = "<complex key>";

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

impl SourceMap {
    /// Maps `text`; refuses documents that expand past `max_nodes`.
    pub fn build(text: &str, max_nodes: u64) -> Result<SourceMap, SourceError> {
        let mut parser = Parser::new_from_str(text);
        let mut b = Builder {
            map: SourceMap::default(),
            stack: Vec::new(),
            expanded: 0,
            anchors: HashMap::new(),
            open: Vec::new(),
        };
        loop {
            let (event, mark) = parser.next_token().map_err(|e| SourceError::Syntax {
                message: e.info().to_string(),
                pos: pos(e.marker()),
            })?;
            let at = pos(&mark);
            match event {
                Event::StreamEnd => break,
                Event::Scalar(text, _, anchor, _) => {
                    b.node(Some(text), at);
                    b.count(1, at, max_nodes)?;
                    if anchor > 0 {
                        b.anchors.insert(anchor, 1);
                    }
                }
                Event::Alias(id) => {
                    b.node(None, at);
                    let size = b.anchors.get(&id).copied().unwrap_or(1);
                    b.count(size, at, max_nodes)?;
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    b.count(1, at, max_nodes)?;
                    if anchor > 0 {
                        b.open.push((anchor, b.expanded - 1));
                    }
                    b.open_collection(at, is_map);
                }
                Event::SequenceEnd | Event::MappingEnd => b.close_collection(),
                _ => {}
            }
        }
        Ok(b.map)
    }

    /// Where to point for a problem at `path`: the node itself, or the
    /// nearest enclosing node that the map knows (values reached through
    /// aliases or merges have no position of their own).
    pub fn locate(&self, path: &Path, anchor: Anchor) -> Option<Pos> {
        let mut p = path.clone();
        let mut exact = true;
        loop {
            if let Some(node) = self.nodes.get(&p) {
                let at_key = anchor == Anchor::Key || !exact || node.container;
                return Some(if at_key {
                    node.key.unwrap_or(node.value)
                } else {
                    node.value
                });
            }
            p = p.parent()?;
            exact = false;
        }
    }
}

impl Builder {
    fn count(&mut self, n: u64, at: Pos, limit: u64) -> Result<(), SourceError> {
        self.expanded = self.expanded.saturating_add(n);
        if self.expanded > limit {
            return Err(SourceError::TooLarge { limit, pos: at });
        }
        Ok(())
    }

    /// Records a scalar or an alias (neither opens a frame).
    fn node(&mut self, scalar: Option<String>, at: Pos) {
        match self.stack.last_mut() {
            Some(Frame::ComplexKey { .. }) => {}
            Some(Frame::Map {
                key: key @ None,
                seen,
                path,
            }) => {
                let name = scalar.unwrap_or_else(|| "*alias".into());
                if let Some(first) = seen.get(&name) {
                    let dup = Duplicate {
                        path: path.key(&name),
                        first: *first,
                        again: at,
                    };
                    self.map.duplicates.push(dup);
                } else {
                    seen.insert(name.clone(), at);
                }
                *key = Some((name, at));
            }
            _ => {
                if let Some((path, key)) = self.claim_value_slot() {
                    self.map.nodes.entry(path).or_insert(NodePos {
                        key,
                        value: at,
                        container: false,
                    });
                }
            }
        }
    }

    /// The path and key position of the value about to be read.
    fn claim_value_slot(&mut self) -> Option<(Path, Option<Pos>)> {
        match self.stack.last_mut() {
            None => Some((Path::root(), None)),
            Some(Frame::Map { path, key, .. }) => {
                let (k, kpos) = key.take()?;
                Some((path.key(&k), Some(kpos)))
            }
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                Some((p, None))
            }
            Some(Frame::ComplexKey { .. }) => None,
        }
    }

    fn open_collection(&mut self, at: Pos, is_map: bool) {
        match self.stack.last_mut() {
            Some(Frame::ComplexKey { depth, .. }) => {
                *depth += 1;
                return;
            }
            Some(Frame::Map { key: None, .. }) => {
                self.stack.push(Frame::ComplexKey { depth: 1, pos: at });
                return;
            }
            _ => {}
        }
        let Some((path, key)) = self.claim_value_slot() else {
            return;
        };
        // The first of duplicate keys keeps its position.
        self.map.nodes.entry(path.clone()).or_insert(NodePos {
            key,
            value: at,
            container: true,
        });
        self.stack.push(if is_map {
            Frame::Map {
                path,
                key: None,
                seen: HashMap::new(),
            }
        } else {
            Frame::Seq { path, next: 0 }
        });
    }

    fn close_collection(&mut self) {
        if let Some((id, start)) = self.open.pop() {
            self.anchors.insert(id, self.expanded - start);
        }
        match self.stack.last_mut() {
            Some(Frame::ComplexKey { depth, pos }) => {
                *depth -= 1;
                if *depth == 0 {
                    let at = *pos;
                    self.stack.pop();
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some((COMPLEX_KEY.into(), at));
                    }
                }
            }
            _ => {
                self.stack.pop();
            }
        }
    }
}

impl SourceMap {
    /// Paths the map knows, for tests.
    #[cfg(test)]
    fn has(&self, path: &Path) -> bool {
        self.nodes.contains_key(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
version: 1
load:
  phases:
    - name: a
      duration: 5s
    - {name: b, duration: 7s}
mix: {x: 1}
";

    #[test]
    fn finds_keys_and_values() {
        let map = SourceMap::build(DOC, 1000).unwrap();
        let p = Path::at(&["load", "phases"]).index(1).key("duration");
        assert!(map.has(&p));
        assert_eq!(
            map.locate(&Path::at(&["version"]), Anchor::Key),
            Some(Pos { line: 1, column: 1 })
        );
        assert_eq!(
            map.locate(&Path::at(&["version"]), Anchor::Value),
            Some(Pos {
                line: 1,
                column: 10
            })
        );
        let first = Path::at(&["load", "phases"]).index(0).key("duration");
        assert_eq!(
            map.locate(&first, Anchor::Value),
            Some(Pos {
                line: 5,
                column: 17
            })
        );
        assert_eq!(
            map.locate(&p, Anchor::Key),
            Some(Pos {
                line: 6,
                column: 17
            })
        );
        // Unknown paths fall back to the nearest known ancestor's key.
        let deep = Path::at(&["mix", "x", "nope"]);
        assert_eq!(
            map.locate(&deep, Anchor::Value),
            Some(Pos { line: 7, column: 7 })
        );
    }

    #[test]
    fn collections_are_located_at_their_key() {
        let map = SourceMap::build(DOC, 1000).unwrap();
        assert_eq!(
            map.locate(&Path::at(&["load"]), Anchor::Value),
            Some(Pos { line: 2, column: 1 })
        );
        assert_eq!(
            map.locate(&Path::at(&["load", "phases"]).index(1), Anchor::Value),
            Some(Pos { line: 6, column: 7 })
        );
    }

    #[test]
    fn finds_every_duplicate_key() {
        let map = SourceMap::build("a: 1\nb: {x: 1, x: 2}\na: 3\n", 100).unwrap();
        let found: Vec<(String, usize, usize)> = map
            .duplicates
            .iter()
            .map(|d| (d.path.to_string(), d.first.line, d.again.line))
            .collect();
        assert_eq!(found, [("b.x".to_string(), 2, 2), ("a".to_string(), 1, 3)]);
    }

    #[test]
    fn refuses_alias_bombs_before_expanding_them() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            doc += &format!("a{i}: &a{i} [{refs}]\n");
        }
        let err = SourceMap::build(&doc, 100_000).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn survives_complex_keys_and_deep_nesting() {
        let doc = "? [a, b]\n: 1\nc: 2\n";
        let map = SourceMap::build(doc, 100).unwrap();
        assert!(map.has(&Path::at(&["c"])));
        // yaml-rust2 bounds flow nesting itself and says so.
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        match SourceMap::build(&deep, 100_000) {
            Err(SourceError::Syntax { message, .. }) => {
                assert!(message.contains("recursion limit"), "{message}")
            }
            other => panic!("expected a recursion-limit error, got {other:?}"),
        }
    }
}
