#!/usr/bin/env bash
# Verifies the console's vendored uPlot (`make console-vendor-check`): packs
# the release named in its SOURCE file from the npm registry into a temp
# dir, checks the tarball's sha256 against SOURCE, and compares the vendored
# files byte for byte with the tarball's. Needs npm and the registry; the
# build and the console need neither.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=host/console/static/vendor/uplot-1.6.32
src=$dir/SOURCE
version=$(sed -n 's/.*npm pack uplot@\([0-9.]*\).*/\1/p' "$src" | head -1)
want=$(grep -oE '\b[0-9a-f]{64}\b' "$src" | head -1)
[[ -n $version && -n $want ]] || { echo "console-vendor-check: $src names no version or sha256" >&2; exit 1; }
[[ $dir == *"uplot-$version" ]] || { echo "console-vendor-check: $dir does not hold uplot $version (SOURCE)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "uplot@$version" --silent >/dev/null)
tgz=$tmp/uplot-$version.tgz
got=$(sha256sum "$tgz" | cut -d' ' -f1)
[[ $got == "$want" ]] || { echo "console-vendor-check: uplot-$version.tgz sha256 $got, SOURCE says $want" >&2; exit 1; }
tar -xzf "$tgz" -C "$tmp"
fail=0
for f in dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE; do
	if cmp -s "$tmp/package/$f" "$dir/$(basename "$f")"; then
		echo "ok  $dir/$(basename "$f") = uplot@$version $f"
	else
		echo "BAD $dir/$(basename "$f") differs from uplot@$version $f" >&2
		fail=1
	fi
done
exit $fail
