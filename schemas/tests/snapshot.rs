//! Every table contract rendered as text and pinned: a schema change shows up as a
//! reviewed snapshot diff (`cargo insta review`, or `INSTA_UPDATE=always` then read the
//! diff).

use esmc_schemas::{SAMPLES, Table, TableSpec};

fn render(spec: &TableSpec) -> String {
    let mut out = format!("## {}: {}\n", spec.name, spec.doc);
    for c in spec.columns {
        out.push_str(&format!(
            "{:<16} {:<8} {:<36} {}\n    {}\n",
            c.name,
            if c.required { "required" } else { "optional" },
            c.kind.canonical_type().to_string(),
            format!("{:?}", c.kind),
            c.doc
        ));
    }
    out
}

#[test]
fn table_contracts() {
    let all: Vec<String> = Table::ALL
        .iter()
        .map(|t| render(t.spec()))
        .chain(std::iter::once(render(&SAMPLES)))
        .collect();
    insta::assert_snapshot!(all.join("\n"));
}
