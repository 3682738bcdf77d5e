#!/usr/bin/env bash
# Builds busybox:latest offline from Debian's busybox-static (docs/internals/testing.md):
# an empty root with /bin/busybox and one symlink per applet, imported with
# PATH set. Idempotent: does nothing when the image exists.
set -euo pipefail
image=${1:-busybox:latest}
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
src=/bin/busybox
[ -x "$src" ] || { echo "make-test-image: $src missing (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
cp "$src" "$root/bin/busybox"
for applet in $("$src" --list); do
  # The applet named busybox is the binary itself: linking it would replace it.
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$image" >/dev/null
echo "made $image"
