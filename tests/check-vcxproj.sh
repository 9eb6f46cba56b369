#!/usr/bin/env bash
# tests/check-vcxproj.sh BUILD: the Visual Studio solution builds exactly what
# CMake builds for Windows.
#
#   bash tests/check-vcxproj.sh build/win     (a configured mingw-w64 build dir)
#
# CMake is the build of record. Each target records its sources at configure
# time (ismail_record_sources in CMakeLists.txt: BUILD/sources/<target>.txt and
# BUILD/sources/dirs.txt). For every target listed there this compares, both
# ways, the compiled sources (.c .cpp .cc .cxx .rc; headers, .def, .manifest,
# .ico and files generated into the build dir do not count) with the
# <ClCompile Include=...> and <ResourceCompile Include=...> items of the target's
# .vcxproj (TABLE below). Then it checks ISMail.sln: every .vcxproj in the
# repository is listed with its own GUID and with Debug|x64 and Release|x64,
# every project reference resolves, and every .vcxproj belongs to a target in
# TABLE. Last, vcpkg.json's version is resources/version.h's.
set -u
T_SUITE=${T_SUITE:-check-vcxproj}
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then echo "usage: bash tests/check-vcxproj.sh <Windows CMake build dir>" >&2; exit 2; fi
BUILD=$1

# CMake target -> its .vcxproj (relative to the repository root).
TABLE='
ismail_core     shared/ismail-core.vcxproj
ismail_proto    service/ismail-proto.vcxproj
ismail-service  service/ismail-service.vcxproj
ismailctl       ctl/ismailctl.vcxproj
store-hammer    tests/store-hammer.vcxproj
dacl-check      tests/dacl-check.vcxproj
ismail-manager  manager-gui/ismail-manager.vcxproj
ismail-driver   manager-gui/ismail-driver.vcxproj
ismail-tests    tests/ismail-tests.vcxproj
acl-read        tests/acl-read.vcxproj
'

# The comparison prints lines "PASS<TAB>name", "FAIL<TAB>name<TAB>reason" or
# "NOTE<TAB>text"; the loop below turns them into pass/fail.
results=$(TABLE="$TABLE" python3 - "$ROOT" "$BUILD" <<'PY'
import glob, json, os, re, sys
import xml.etree.ElementTree as ET

root, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
NS = "{http://schemas.microsoft.com/developer/msbuild/2003}"
COMPILED = (".c", ".cpp", ".cc", ".cxx", ".rc")

def out(kind, *fields):
    print("\t".join((kind,) + tuple(f.replace("\t", " ").replace("\n", " ") for f in fields)))

table = {}
for line in os.environ["TABLE"].strip().splitlines():
    target, proj = line.split()
    table[target] = proj

# The build dir: configured, for Windows, with the source lists written.
dirs_txt = os.path.join(build, "sources", "dirs.txt")
if not os.path.isfile(dirs_txt):
    out("FAIL", "build dir", "%s not found: configure a Windows build first (see docs/building-windows.md)" % dirs_txt)
    sys.exit(0)
system = None
for f in glob.glob(os.path.join(build, "CMakeFiles", "*", "CMakeSystem.cmake")):
    m = re.search(r'set\(CMAKE_SYSTEM_NAME "([^"]*)"\)', open(f).read())
    if m:
        system = m.group(1)
if system != "Windows":
    out("FAIL", "build dir", "%s is a %s build, not a Windows (mingw-w64) one" % (build, system or "unknown"))
    sys.exit(0)
cmake_root = root
cache = os.path.join(build, "CMakeCache.txt")
if os.path.isfile(cache):
    m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", open(cache).read(), re.M)
    if m:
        cmake_root = os.path.normpath(m.group(1))

def rel(path, base):
    """path (absolute) relative to base, with forward slashes."""
    r = os.path.relpath(os.path.normpath(path), base)
    return path if r.startswith("..") else r.replace(os.sep, "/")

def cmake_sources(target, srcdir):
    listed, dropped = set(), []
    with open(os.path.join(build, "sources", target + ".txt")) as f:
        for line in f:
            for s in line.strip().split(";"):
                if not s:
                    continue
                p = s if os.path.isabs(s) else os.path.join(srcdir, s)
                p = os.path.normpath(p)
                if not p.lower().endswith(COMPILED):
                    continue
                if p == build or p.startswith(build + os.sep):
                    dropped.append(rel(p, build))   # generated at build time
                    continue
                listed.add(rel(p, cmake_root))
    return listed, dropped

def vcx_tree(proj):
    return ET.parse(os.path.join(root, proj)).getroot()

def vcx_sources(proj):
    built, excluded = set(), set()
    projdir = os.path.dirname(os.path.join(root, proj))
    for group in vcx_tree(proj).iter(NS + "ItemGroup"):
        for item in group:
            if item.tag not in (NS + "ClCompile", NS + "ResourceCompile"):
                continue
            for inc in item.get("Include", "").split(";"):
                inc = inc.strip()
                if not inc:
                    continue
                for macro in ("$(ProjectDir)", "$(MSBuildThisFileDirectory)", "$(MSBuildProjectDirectory)\\"):
                    inc = inc.replace(macro, projdir + os.sep)
                inc = inc.replace("$(SolutionDir)", root + os.sep)
                p = rel(os.path.join(projdir, inc.replace("\\", "/")), root)
                if any((e.text or "").strip().lower() == "true" for e in item.iter(NS + "ExcludedFromBuild")):
                    excluded.add(p)
                else:
                    built.add(p)
    return built, excluded

# One check per CMake target.
seen = []
for line in open(dirs_txt):
    if not line.strip():
        continue
    target, srcdir = line.rstrip("\n").split(" ", 1)
    if target in seen:
        continue
    seen.append(target)
    proj = table.get(target)
    if proj is None:
        out("FAIL", target, "no .vcxproj for this CMake target (add one and map it in TABLE in tests/check-vcxproj.sh)")
        continue
    name = "%s (%s)" % (target, proj)
    if not os.path.isfile(os.path.join(root, proj)):
        out("FAIL", name, "%s does not exist" % proj)
        continue
    if not os.path.isfile(os.path.join(build, "sources", target + ".txt")):
        out("FAIL", name, "%s/sources/%s.txt missing: re-run cmake on the build dir (CMake writes it when it generates)" % (build, target))
        continue
    try:
        want, dropped = cmake_sources(target, srcdir)
        have, excluded = vcx_sources(proj)
    except (OSError, ET.ParseError) as e:
        out("FAIL", name, str(e))
        continue
    problems = []
    missing = sorted(want - have)
    if missing:
        problems.append("built by CMake but not in the .vcxproj: " + ", ".join(
            f + (" (ExcludedFromBuild)" if f in excluded else "") for f in missing))
    extra = sorted(have - want)
    if extra:
        problems.append("in the .vcxproj but not built by CMake: " + ", ".join(extra))
    # Every project-built library CMake links must be a ProjectReference.
    links_txt = os.path.join(build, "sources", target + ".links")
    if os.path.isfile(links_txt):
        projdir = os.path.dirname(os.path.join(root, proj))
        refs = {rel(os.path.join(projdir, r.get("Include", "").replace("\\", "/")), root)
                for r in vcx_tree(proj).iter(NS + "ProjectReference")}
        for lib in (l.strip() for l in open(links_txt)):
            if lib in table and table[lib] not in refs:
                problems.append("CMake links %s but the .vcxproj has no ProjectReference to %s" % (lib, table[lib]))
    if problems:
        out("FAIL", name, "; ".join(problems))
    else:
        note = " (generated, not compared: %s)" % ", ".join(dropped) if dropped else ""
        out("PASS", "%s: %d sources%s" % (name, len(want), note))

for target, proj in table.items():
    if target not in seen and os.path.isfile(os.path.join(root, proj)):
        out("NOTE", "%s: target %s is not in this build dir (e.g. ISMAIL_BUILD_GUI=OFF); its sources were not compared" % (proj, target))

# The solution.
problems = []
projects = {}      # path (root-relative, /) -> GUID in the .sln
sln_path = os.path.join(root, "ISMail.sln")
try:
    sln = open(sln_path, encoding="utf-8-sig").read()
except OSError as e:
    out("FAIL", "ISMail.sln", str(e))
    sln = None
if sln is not None:
    for name, path, guid in re.findall(r'^Project\("\{[^}]*\}"\) = "([^"]*)", "([^"]*)", "\{([^}]*)\}"', sln, re.M):
        if path.lower().endswith(".vcxproj"):
            projects[path.replace("\\", "/")] = guid.upper()
    for cfg in ("Debug|x64", "Release|x64"):
        if not re.search(r"^\s*%s = %s\s*$" % (re.escape(cfg), re.escape(cfg)), sln, re.M):
            problems.append("solution configuration %s missing" % cfg)
    on_disk = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "build", "vcpkg_installed", "out")]
        for f in filenames:
            if f.endswith(".vcxproj"):
                on_disk.add(rel(os.path.join(dirpath, f), root))
    for p in sorted(on_disk - set(projects)):
        problems.append("%s is not in ISMail.sln" % p)
    for p in sorted(set(projects) - on_disk):
        problems.append("ISMail.sln lists %s, which does not exist" % p)
    for p in sorted(on_disk - set(table.values())):
        problems.append("%s belongs to no CMake target in TABLE" % p)
    guids = {}
    for p in sorted(on_disk):
        try:
            t = vcx_tree(p)
        except ET.ParseError as e:
            problems.append("%s: %s" % (p, e))
            continue
        g = t.find("%sPropertyGroup/%sProjectGuid" % (NS, NS))
        guid = (g.text or "").strip("{} ").upper() if g is not None else ""
        guids[p] = guid
        if p in projects:
            if projects[p] != guid:
                problems.append("%s: GUID {%s} in ISMail.sln, {%s} in the .vcxproj" % (p, projects[p], guid))
            for cfg in ("Debug|x64", "Release|x64"):
                for what in ("ActiveCfg", "Build.0"):
                    if not re.search(r"^\s*\{%s\}\.%s\.%s = " % (guid, re.escape(cfg), re.escape(what)), sln, re.M | re.I):
                        problems.append("%s: no %s.%s in ISMail.sln" % (p, cfg, what))
    for p in sorted(on_disk):
        if p not in guids:
            continue
        projdir = os.path.dirname(os.path.join(root, p))
        for ref in vcx_tree(p).iter(NS + "ProjectReference"):
            target = rel(os.path.join(projdir, ref.get("Include", "").replace("\\", "/")), root)
            g = ref.find(NS + "Project")
            if target not in guids:
                problems.append("%s references %s, which does not exist" % (p, target))
            elif g is not None and (g.text or "").strip("{} ").upper() != guids[target]:
                problems.append("%s references %s with the wrong GUID" % (p, target))
    if problems:
        out("FAIL", "ISMail.sln", "; ".join(problems))
    else:
        out("PASS", "ISMail.sln: all %d .vcxproj listed, GUIDs, x64 configurations and references consistent" % len(on_disk))

# vcpkg.json's version is version.h's.
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
) || fail "check-vcxproj.sh" "the comparison itself failed (python3 exit $?)"

while IFS=$'\t' read -r kind name reason; do
    case $kind in
        PASS) pass "$name" ;;
        FAIL) fail "$name" "$reason" ;;
        NOTE) echo "NOTE: $name" ;;
    esac
done <<<"$results"
finish
