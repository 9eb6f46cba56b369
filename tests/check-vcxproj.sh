#!/usr/bin/env bash
# tests/check-vcxproj.sh BUILD: the committed Visual Studio projects are the
# ones scripts/gen-vcxproj.py generates from CMake's source lists.
#
#   bash tests/check-vcxproj.sh build/win     (a configured mingw-w64 build dir)
#
# It regenerates every .vcxproj and ISMail.sln into a temporary folder and
# compares them, byte for byte, with the committed files (a difference is shown
# as a diff). Then it checks ISMail.sln as Visual Studio reads it: every .vcxproj
# in the repository is listed with its own GUID and with Debug|x64 and
# Release|x64, and every project reference resolves. Last, vcpkg.json's version
# is resources/version.h's.
set -u
T_SUITE=${T_SUITE:-check-vcxproj}
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then echo "usage: bash tests/check-vcxproj.sh <Windows CMake build dir>" >&2; exit 2; fi
BUILD=$1
HINT="run \`python3 scripts/gen-vcxproj.py $BUILD\` (make vcxproj) and commit the result"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# Regenerate and compare.
if out=$(python3 "$ROOT/scripts/gen-vcxproj.py" "$BUILD" --out "$TMP" 2>&1); then
    generated=$(cd "$TMP" && find . -type f | sed 's|^\./||' | sort)
    for f in $generated; do
        if [ ! -f "$ROOT/$f" ]; then
            fail "$f" "not committed: $HINT"
        elif cmp -s "$TMP/$f" "$ROOT/$f"; then
            pass "$f is generated from CMake's lists"
        else
            fail "$f" "differs from what CMake's lists generate: $HINT"
            d=$(diff -u --label "$f (committed)" --label "$f (generated)" \
                    <(tr -d '\r' <"$ROOT/$f") <(tr -d '\r' <"$TMP/$f") | head -60)
            echo "${d:-    (line endings or byte order mark differ: CRLF and a UTF-8 BOM are expected)}"
        fi
    done
    stale=$(cd "$ROOT" && find . \( -name .git -o -name build -o -name vcpkg_installed -o -name out \) -prune \
                -o -name '*.vcxproj' -type f -print | sed 's|^\./||' | sort | comm -23 - <(echo "$generated"))
    for f in $stale; do
        fail "$f" "no CMake target generates it: remove it, or add its target to TARGETS in scripts/gen-vcxproj.py"
    done
else
    fail "scripts/gen-vcxproj.py $BUILD" "$(echo "$out" | tail -3 | tr '\n' ' ')"
fi

# The solution as Visual Studio reads it, and vcpkg.json's version. Prints lines
# "PASS<TAB>name" or "FAIL<TAB>name<TAB>reason".
results=$(python3 - "$ROOT" <<'PY'
import json, os, re, sys
import xml.etree.ElementTree as ET

root = sys.argv[1]
NS = "{http://schemas.microsoft.com/developer/msbuild/2003}"

def out(kind, *fields):
    print("\t".join((kind,) + tuple(f.replace("\t", " ").replace("\n", " ") for f in fields)))

def rel(path):
    return os.path.relpath(os.path.normpath(path), root).replace(os.sep, "/")

problems = []
try:
    sln = open(os.path.join(root, "ISMail.sln"), encoding="utf-8-sig").read()
except OSError as e:
    out("FAIL", "ISMail.sln", str(e))
    sln = None
if sln is not None:
    listed = {}                     # path (root-relative, /) -> GUID in the .sln
    for name, path, guid in re.findall(r'^Project\("\{[^}]*\}"\) = "([^"]*)", "([^"]*)", "\{([^}]*)\}"', sln, re.M):
        if path.lower().endswith(".vcxproj"):
            listed[path.replace("\\", "/")] = guid.upper()
    for cfg in ("Debug|x64", "Release|x64"):
        if not re.search(r"^\s*%s = %s\s*$" % (re.escape(cfg), re.escape(cfg)), sln, re.M):
            problems.append("solution configuration %s missing" % cfg)
    on_disk = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "build", "vcpkg_installed", "out")]
        on_disk.update(rel(os.path.join(dirpath, f)) for f in filenames if f.endswith(".vcxproj"))
    for p in sorted(on_disk - set(listed)):
        problems.append("%s is not in ISMail.sln" % p)
    for p in sorted(set(listed) - on_disk):
        problems.append("ISMail.sln lists %s, which does not exist" % p)
    trees, guids = {}, {}
    for p in sorted(on_disk):
        try:
            trees[p] = ET.parse(os.path.join(root, p)).getroot()
        except ET.ParseError as e:
            problems.append("%s: %s" % (p, e))
            continue
        g = trees[p].find("%sPropertyGroup/%sProjectGuid" % (NS, NS))
        guids[p] = (g.text or "").strip("{} ").upper() if g is not None else ""
        if p in listed:
            if listed[p] != guids[p]:
                problems.append("%s: GUID {%s} in ISMail.sln, {%s} in the .vcxproj" % (p, listed[p], guids[p]))
            for cfg in ("Debug|x64", "Release|x64"):
                for what in ("ActiveCfg", "Build.0"):
                    if not re.search(r"^\s*\{%s\}\.%s\.%s = " % (guids[p], re.escape(cfg), re.escape(what)), sln, re.M | re.I):
                        problems.append("%s: no %s.%s in ISMail.sln" % (p, cfg, what))
    for p, tree in trees.items():
        projdir = os.path.dirname(os.path.join(root, p))
        for ref in tree.iter(NS + "ProjectReference"):
            target = rel(os.path.join(projdir, ref.get("Include", "").replace("\\", "/")))
            g = ref.find(NS + "Project")
            if target not in on_disk:
                problems.append("%s references %s, which does not exist" % (p, target))
            elif target in guids and g is not None and (g.text or "").strip("{} ").upper() != guids[target]:
                problems.append("%s references %s with the wrong GUID" % (p, target))
    if problems:
        out("FAIL", "ISMail.sln", "; ".join(problems))
    else:
        out("PASS", "ISMail.sln: all %d .vcxproj listed, GUIDs, x64 configurations and references consistent" % len(on_disk))

try:
    have = json.load(open(os.path.join(root, "vcpkg.json"))).get("version")
    want = re.search(r'#define ISM_VERSION_STRING "([^"]*)"', open(os.path.join(root, "resources", "version.h")).read()).group(1)
    if have == want:
        out("PASS", "vcpkg.json version %s (resources/version.h)" % have)
    else:
        out("FAIL", "vcpkg.json version", "%s, but resources/version.h says %s" % (have, want))
except (OSError, ValueError, AttributeError) as e:
    out("FAIL", "vcpkg.json version", str(e))
PY
) || fail "check-vcxproj.sh" "the solution check itself failed (python3 exit $?)"

while IFS=$'\t' read -r kind name reason; do
    case $kind in
        PASS) pass "$name" ;;
        FAIL) fail "$name" "$reason" ;;
    esac
done <<<"$results"
finish
