#!/usr/bin/env bash
# docs/guide/07-cli-reference.md must be exactly what scripts/gen-cli-reference.sh writes from the CLI's
# --help: a changed option without a regenerated reference fails here.
# Usage: tests/check_cli_reference.sh path/to/roofline
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
"$root/scripts/gen-cli-reference.sh" "$1" "$tmp" >/dev/null
if ! diff -u "$root/docs/guide/07-cli-reference.md" "$tmp"; then
  echo "cli_reference: docs/guide/07-cli-reference.md differs from the CLI's --help (diff above);"
  echo "run scripts/gen-cli-reference.sh path/to/roofline and commit the result"
  exit 1
fi
echo "cli_reference: docs/guide/07-cli-reference.md matches the CLI"
