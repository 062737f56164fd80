#!/usr/bin/env bash
# Regenerates reports/example/: a small bundle of the main job against the
# embedded reference service (a few conformance cases in each dialect, one priced case and
# the interactive load), signed with a throwaway key whose public half is
# kept as signing.pub.pem, and its report.md, report.html and junit.xml.
#
# Run it after changing spec/, suites/, the judge or the reports: the
# bundle names the suite's digest, so the test that verifies it
# (runner/cli/tests/report_html.rs) fails until it is regenerated.
# Takes about a minute once tokencert is built; needs no network.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cases=(api.chat.basic api.chat.stream.done msg.stream.events.text rsp.stream.events.text acc.recount.completion-chat perf.interactive)

cd "$root"
cargo build --locked -q -p tokencert
tokencert() { cargo run --locked -q -p tokencert -- "$@"; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tokencert keygen --out "$tmp/key" >/dev/null
tokencert run --suite "$root" --out "$tmp/out" \
    --key "$tmp/key/tokencert-signing.key.pem" "${cases[@]}"
bundle="$(find "$tmp/out" -mindepth 1 -maxdepth 1 -type d)"
name="$(basename "$bundle")"
cp "$tmp/key/tokencert-signing.pub.pem" "$tmp/signing.pub.pem"
tokencert report --suite "$root" --key "$tmp/signing.pub.pem" --out "$tmp/pages" "$bundle" >/dev/null

# Replace the old example only once the new one is complete.
find "$here" -mindepth 1 -maxdepth 1 -type d -exec test -e '{}/run.json' ';' -exec rm -rf '{}' +
mv "$bundle" "$here/$name"
mv "$tmp/signing.pub.pem" "$tmp/pages/report.md" "$tmp/pages/report.html" "$tmp/pages/junit.xml" "$here/"
tokencert verify --suite "$root" --key "$here/signing.pub.pem" "$here/$name"
du -sh "$here"
