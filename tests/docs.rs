//! docs/ is generated from the schemas: this fails when it drifts.
//! `make docs` (ROOTMAIL_WRITE_DOCS=1) rewrites it.

use rootmail::provider::docs::pages;
use std::path::Path;

#[test]
fn docs_match_the_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let write = std::env::var_os("ROOTMAIL_WRITE_DOCS").is_some();
    let mut stale = Vec::new();
    for page in pages() {
        let path = root.join(&page.path);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &page.content).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) if text == page.content => {}
            _ => stale.push(page.path),
        }
    }
    assert!(
        stale.is_empty(),
        "docs/ differs from the schemas for {stale:?}; run `make docs` and commit the result"
    );
}

#[test]
fn every_documented_attribute_has_a_description() {
    let pages = pages();
    assert_eq!(pages.len(), 7, "index, 2 resources, 4 data sources");
    for page in pages {
        for line in page.content.lines().filter(|l| l.starts_with("- `")) {
            let after_type = line.split_once(") ").map(|(_, d)| d.trim()).unwrap_or("");
            assert!(
                !after_type.is_empty(),
                "{}: undocumented attribute: {line}",
                page.path
            );
        }
    }
}

/// The testing guide shows the example module and its tests as they are in
/// examples/testing (which `e2e_modern` runs with `terraform test`).
#[test]
fn the_testing_guide_quotes_its_examples_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/guides/testing.md")).unwrap();
    for file in [
        "main.tf",
        "tests/mocked.tftest.hcl",
        "tests/override.tftest.hcl",
    ] {
        let text = std::fs::read_to_string(root.join("examples/testing").join(file)).unwrap();
        assert!(
            guide.contains(&format!("```terraform\n{text}```")),
            "docs/guides/testing.md does not quote examples/testing/{file} as it is"
        );
    }
}
