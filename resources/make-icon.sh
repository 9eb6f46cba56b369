#!/bin/bash
# resources/make-icon.sh: regenerates ismail.ico (an envelope with a padlock)
# from a drawing, so the icon has a source and is not an opaque blob.
# Every size is stored PNG-compressed (Windows Vista and later read that at any
# size), which keeps the file a few KB. Needs ImageMagick and python3.
#   bash resources/make-icon.sh [OUT.ico]
set -euo pipefail
out=${1:-$(dirname "$0")/ismail.ico}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
/usr/bin/convert -size 256x256 xc:none \
  -fill '#1f5fa8' -draw 'roundrectangle 12,52 236,212 14,14' \
  -fill '#f4f7fb' -draw 'roundrectangle 22,62 226,202 8,8' \
  -stroke '#1f5fa8' -strokewidth 12 -fill none -draw 'polyline 26,68 124,146 222,68' \
  -stroke '#5a4a1a' -strokewidth 18 -draw 'arc 148,118 228,198 180,360' \
  -draw 'line 148,158 148,172' -draw 'line 228,158 228,172' \
  -stroke '#7a5c00' -strokewidth 4 -fill '#f2b51c' -draw 'roundrectangle 132,160 244,246 10,10' \
  -stroke none -fill '#5a4a1a' -draw 'circle 188,195 188,183' -draw 'rectangle 183,195 193,226' \
  "$t/256.png"
sizes="16 24 32 48 64 256"
for s in $sizes; do
  [ "$s" = 256 ] || /usr/bin/convert "$t/256.png" -filter Lanczos -resize "${s}x${s}" "$t/$s.png"
  /usr/bin/convert "$t/$s.png" -strip -depth 8 -define png:compression-level=9 "PNG32:$t/$s.png"
done
python3 - "$out" "$t" $sizes <<'PY'
import struct, sys
out, d, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
blobs = [open(f"{d}/{s}.png", "rb").read() for s in sizes]
head = struct.pack("<HHH", 0, 1, len(sizes))
off = 6 + 16 * len(sizes)
dirs = b""
for s, b in zip(sizes, blobs):
    dirs += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(b), off)
    off += len(b)
open(out, "wb").write(head + dirs + b"".join(blobs))
PY
echo "wrote $out ($(stat -c %s "$out") bytes)"
