#!/usr/bin/env bash
# Fetch the plotly.js cartesian partial bundle that the HTML report inlines
# (explain/report/vendor/plotly-cartesian.min.js) from the npm registry and check its sha256.
# The one step of the report that uses the network; the report itself never does.
#
#   bash scripts/update-plotly-bundle.sh                   # plotly.js version of the installed plotly.py
#   bash scripts/update-plotly-bundle.sh 4.1.1             # that version (its sha256 in known_sha256)
#   bash scripts/update-plotly-bundle.sh 4.2.0 <sha256>    # a new version, with the sha256 you expect
#
# The version must be the one plotly.py ships (plotly.offline.get_plotlyjs_version()); the report
# falls back to plotly.py's full bundle, with a warning, when they differ. Needs npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/explain/report/vendor"
PACKAGE="plotly.js-cartesian-dist-min"
FILE="plotly-cartesian.min.js"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

# KNOWN: the sha256 of $FILE per version, as published on npm (reviewed when added).
known_sha256() {
    case "$1" in
        4.1.1) echo 79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a ;;
    esac
}
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi; }

version="${1:-}"
if [ -z "$version" ]; then
    version="$("$PYTHON" -c 'from plotly.offline import get_plotlyjs_version as v; print(v())')"
    echo "update-plotly-bundle: plotly.py ships plotly.js $version"
fi
expected="${2:-$(known_sha256 "$version")}"
if [ -z "$expected" ]; then
    echo "update-plotly-bundle: no known sha256 for $PACKAGE@$version; pass the one you expect:" >&2
    echo "  bash $0 $version <sha256>   (then add it to known_sha256 here and to $VENDOR/README.md)" >&2
    exit 2
fi
command -v npm >/dev/null || { echo "update-plotly-bundle: npm is needed" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# npm checks the tarball against the registry's sha512 integrity while it downloads.
(cd "$work" && npm pack --silent "$PACKAGE@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
got="$(sha256 "$work/package/$FILE" | cut -d' ' -f1)"
if [ "$got" != "$expected" ]; then
    echo "update-plotly-bundle: sha256 mismatch for $PACKAGE@$version/$FILE" >&2
    echo "  expected $expected" >&2
    echo "  got      $got" >&2
    exit 1
fi
if ! head -c 200 "$work/package/$FILE" | grep -q "plotly.js (cartesian - minified) v$version\$"; then
    echo "update-plotly-bundle: $FILE does not say it is plotly.js v$version" >&2
    exit 1
fi
if grep -qi '</script' "$work/package/$FILE"; then
    echo "update-plotly-bundle: $FILE contains '</script'; it cannot be inlined" >&2
    exit 1
fi

mkdir -p "$VENDOR"
cp "$work/package/$FILE" "$VENDOR/$FILE"
cp "$work/package/LICENSE" "$VENDOR/LICENSE"
size="$(wc -c < "$VENDOR/$FILE" | tr -d ' ')"
echo "update-plotly-bundle: $VENDOR/$FILE = $PACKAGE@$version, $size bytes, sha256 $got"
echo "update-plotly-bundle: update the version, size and sha256 in $VENDOR/README.md if they changed"
