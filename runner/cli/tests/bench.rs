//! `tokencert bench`: the quick run prints the four figures with numbers
//! and exits 0; a bad flag is a usage error (exit 2). No timing assertions.

use std::process::{Command, Output};

fn tokencert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .env_remove("TOKENCERT_SUITE")
        .output()
        .expect("tokencert runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn quick_bench_prints_the_four_figures() {
    let out = tokencert(&["bench", "--quick"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for label in [
        "1. timing error: p50 ",
        "2. SSE ingest: ",
        "3. send lateness: p50 ",
        "4. memory per in-flight stream: ",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no line {label:?} in:\n{stdout}"));
        let rest = &line[label.len()..];
        assert!(
            rest.starts_with(|c: char| c.is_ascii_digit()) || rest.starts_with("unavailable"),
            "{line}"
        );
    }
    assert!(stdout.contains("in a child process"), "{stdout}");
    assert!(stdout.contains("goal p99 < 0.5 ms"), "{stdout}");
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    for args in [
        &["bench", "--streams", "0"][..],
        &["bench", "--streams", "5001"],
        &["bench", "--rate", "20000"],
        &["bench", "--duration", "61s"],
        &["bench", "--no-such-flag"],
    ] {
        let out = tokencert(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
