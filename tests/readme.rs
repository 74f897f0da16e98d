//! The README's examples are part of the documentation's contract: the
//! scenario it shows must be valid, exactly as printed.

mod common;

/// The first ```yaml block after `heading`.
fn yaml_block_after(readme: &str, heading: &str) -> String {
    let rest = &readme[readme.find(heading).expect("heading present")..];
    let start = rest.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = rest[start..].find("```").expect("the block closes");
    rest[start..start + end].to_string()
}

#[test]
fn the_format_example_is_a_valid_scenario() {
    let readme = std::fs::read_to_string(common::repo("README.md")).unwrap();
    let example = yaml_block_after(&readme, "## The scenario format, by example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.yaml");
    std::fs::write(&path, &example).unwrap();
    let out = common::surge().arg("validate").arg(&path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the README's example does not validate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
