//! Whatever bytes arrive, checking a scenario ends in a verdict, never a
//! panic: arbitrary bytes, arbitrary text, and shipped scenarios mutated
//! line by line (the inputs most likely to reach the deep checks).

use proptest::prelude::*;
use surge::scenario::{Checked, check_bytes};

const SCENARIOS: [&str; 3] = [
    include_str!("../scenarios/smoke.yaml"),
    include_str!("../scenarios/capacity-gate.yaml"),
    include_str!("../scenarios/cpns-2024-deadline-eve.yaml"),
];

/// A verdict is coherent: a scenario exactly when no error was found, and
/// every error says something.
fn coherent(checked: &Checked) -> Result<(), TestCaseError> {
    let errors = checked.errors().count();
    prop_assert_eq!(checked.scenario.is_some(), errors == 0);
    for p in &checked.problems {
        prop_assert!(!p.message.is_empty());
    }
    Ok(())
}

fn check(bytes: &[u8]) -> Checked {
    check_bytes(bytes, std::path::Path::new("scenarios"))
}

/// Tokens that YAML and surge give meaning to.
const TOKENS: [&str; 24] = [
    ":", "- ", "{", "}", "[", "]", "&a", "*a", "<<: *a", "!tag", "'", "\"", "#", "\n", "  ", "0s",
    "-1/s", "${X}", "{v}", "$.x", "null", "~", "1e999", "\t",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
    ReplaceChar(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Insert(at, t)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Mutation::ReplaceChar(at, c)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::Insert(at, t) => {
            let joined = lines.join("\n");
            let mut at = at % (joined.len() + 1);
            while !joined.is_char_boundary(at) {
                at -= 1;
            }
            return format!("{}{}{}", &joined[..at], TOKENS[*t], &joined[at..]);
        }
        Mutation::Truncate(at) => {
            let joined = lines.join("\n");
            let mut at = at % (joined.len() + 1);
            while !joined.is_char_boundary(at) {
                at -= 1;
            }
            return joined[..at].to_string();
        }
        Mutation::ReplaceChar(at, c) => {
            let joined: Vec<char> = lines.join("\n").chars().collect();
            let mut chars = joined;
            let i = at % chars.len().max(1);
            if !chars.is_empty() {
                chars[i] = *c;
            }
            return chars.into_iter().collect();
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        coherent(&check(&bytes))?;
    }

    #[test]
    fn arbitrary_text_gets_a_verdict(text in "\\PC{0,512}") {
        coherent(&check(text.as_bytes()))?;
    }

    #[test]
    fn mutated_scenarios_get_a_verdict(
        which in 0..SCENARIOS.len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut text = SCENARIOS[which].to_string();
        for m in &mutations {
            text = apply(&text, m);
        }
        coherent(&check(text.as_bytes()))?;
    }
}

#[test]
fn unmutated_scenarios_are_accepted() {
    for text in SCENARIOS {
        let checked = check(text.as_bytes());
        assert!(checked.scenario.is_some(), "{:?}", checked.problems);
    }
}
