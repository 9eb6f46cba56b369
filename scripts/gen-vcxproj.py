#!/usr/bin/env python3
"""scripts/gen-vcxproj.py BUILD [--out DIR]: writes every .vcxproj and ISMail.sln.

    python3 scripts/gen-vcxproj.py build/win      (or: make vcxproj)

CMake is the build of record. Each target records, when CMake configures, what
it compiles and what it links (ismail_record_sources in CMakeLists.txt:
BUILD/sources/<target>.txt, <target>.links and dirs.txt). This script reads
those lists from a configured mingw-w64 (Windows) build folder and writes the
Visual Studio projects from them and from TARGETS below, which holds what CMake
does not say. TARGETS plus the CMake source lists are the one list: to add a
source file, add it to its CMakeLists.txt and run `make vcxproj`; to add a
target, add a row to TARGETS too. The outputs are committed, so Visual Studio
users need nothing but the solution; tests/check-vcxproj.sh regenerates them
and fails if they differ from the committed ones.

Item lists come from CMake, in CMake's order:
  .c .cpp .cc .cxx  -> ClCompile          .rc -> ResourceCompile
  .h .hpp           -> ClInclude          files generated into BUILD are left out
  ClInclude also gets X.h for each compiled X.c (X.cpp) that has one beside it,
    plus the row's `headers` (headers with no source of their name), sorted.
  ProjectReference: each target of TARGETS in <target>.links.
  Link libraries: the row's `libs`, then every Windows library the target
    links in CMake (directly or through a library target) that is not already
    there; CMake targets standing for vcpkg packages (VCPKG_TARGETS), full
    paths and generator expressions are left to vcpkg and `#pragma comment`.
Files are written as Visual Studio writes them: UTF-8 with a BOM, CRLF.
Standard library only.
"""
import argparse
import glob
import os
import re
import sys
import uuid
from xml.sax.saxutils import escape, quoteattr

# The Windows libraries every program links (CMake: ismail_deps and ismail_core).
DEFAULT_LIBS = ["ws2_32", "crypt32", "advapi32", "bcrypt", "user32", "shell32", "ole32", "comctl32"]
# Defines of every project (CMake: ismail_deps's Windows definitions).
DEFINES = ["UNICODE", "_UNICODE", "WIN32_LEAN_AND_MEAN", "_WIN32_WINNT=0x0601"]

# The event log's message table, as service/CMakeLists.txt's add_custom_command
# does with windmc (placed between the ClCompile and ResourceCompile items).
MESSAGES_MC = """\
  <!-- The event log's message table, as CMake's add_custom_command does with windmc:
       messages.h, messages.rc and MSG00409.bin go to the intermediate folder, which is on
       both include paths above; service.rc includes messages.rc. -->
  <ItemGroup>
    <CustomBuild Include="messages.mc">
      <Message>Compiling the event log messages (messages.mc)</Message>
      <Command>mc.exe -U -h "$(IntDir)." -r "$(IntDir)." "%(FullPath)"</Command>
      <Outputs>$(IntDir)messages.h;$(IntDir)messages.rc;$(IntDir)MSG00409.bin</Outputs>
    </CustomBuild>
  </ItemGroup>
"""


def T(target, vcxproj, kind, guid, about, **kw):
    """One row: the CMake target, its .vcxproj (from the top), kind (lib: static
    library; exe: console program; gui: Windows program), the project GUID (None:
    derived from the target name) and the first comment line(s) of the file.
    Optional: ns (RootNamespace), cxx (C++14 program), inc / rc_inc (include
    folders from the top, or $(IntDir)), defines and libs (on top of DEFINES, and
    instead of DEFAULT_LIBS), headers and none (items of the project folder),
    props (extra properties), custom (raw items)."""
    row = dict(target=target, vcxproj=vcxproj, kind=kind, guid=guid, about=about,
               ns=None, cxx=False, inc=[], rc_inc=[], defines=[], libs=DEFAULT_LIBS,
               headers=[], none=[], props=[], custom="")
    unknown = set(kw) - set(row)
    if unknown:
        raise SystemExit("gen-vcxproj.py: TARGETS row %s: unknown field %s" % (target, ", ".join(sorted(unknown))))
    row.update(kw)
    return row


# ---- The table: one row per CMake target built for Windows, in ISMail.sln's order. ----
# (CMake's -municode for acl-read and the manager needs no setting: MSVC picks
# wmain or wWinMain by itself.)
TARGETS = [
    T("ismail_core", "shared/ismail-core.vcxproj", "lib", "E5CAB58A-4081-4235-93B9-7E442233BB36",
      "the core library with the Windows platform layer.", ns="ismailcore",
      inc=["shared"], headers=["ism_platform.h"], none=["ism_settings.def"]),
    T("ismail_proto", "service/ismail-proto.vcxproj", "lib", "244DD9B2-6838-42EA-80E1-7C419DEB9C3E",
      "the protocol state machines, linked into the unit tests.", ns="ismailproto",
      inc=["service", "shared"]),
    T("ismail-service", "service/ismail-service.vcxproj", "exe", "E1071A2C-BA0E-4C37-BC76-93A8F0557B26",
      "the mail service (a Windows service).", ns="ismailservice",
      inc=["service", "shared", "resources", "$(IntDir)"], rc_inc=["resources", "$(IntDir)"],
      headers=["smtp.h", "svc.h"], custom=MESSAGES_MC),
    T("ismailctl", "ctl/ismailctl.vcxproj", "exe", "285F2B05-EBEF-45BB-ADE9-74742D6CFEE4",
      "the command line.", inc=["shared", "resources"]),
    T("store-hammer", "tests/store-hammer.vcxproj", "exe", "83F6C96D-D0AB-4749-802F-B1A5FACDCA2D",
      "concurrency and crash tests of the store.", inc=["shared"]),
    T("ismail-manager", "manager-gui/ismail-manager.vcxproj", "gui", "58A58DFB-CC7E-4297-A6C4-30EC01F4163B",
      "the Win32 manager. manager.rc embeds the\n"
      "     manifest, so the linker must not generate one (GenerateManifest false).", ns="ismailmanager",
      inc=["manager-gui", "shared", "resources"], rc_inc=["manager-gui", "resources"],
      headers=["app.h", "resource.h"], props=[("GenerateManifest", "false")]),
    T("ismail-driver", "manager-gui/ismail-driver.vcxproj", "exe", "DED77BA5-5FEC-4B45-B59D-9A3DF3471143",
      "drives the manager in the Wine tests;\n"
      "     shares the manager's binding table (bindings.c) and control ids (resource.h).", ns="ismaildriver",
      inc=["manager-gui", "shared"], headers=["resource.h"]),
    T("ismail-tests", "tests/ismail-tests.vcxproj", "exe", "89E04FF1-AEA1-4F71-8F99-06DB383F030F",
      "the CppUTest unit suites (C++14).", ns="ismailtests", cxx=True,
      inc=["tests/unit", "shared", "service"], headers=["unit/mail_session.h"]),
    T("acl-read", "tests/acl-read.vcxproj", "exe", "AD591EAB-6F71-450F-9EB5-EBE6F0E36A29",
      "prints a path's DACL as SDDL, for tests/wine/e2e-service.sh.", libs=[]),
    T("dacl-check", "tests/dacl-check.vcxproj", "exe", "F0C4E50D-452D-4D5A-93D0-EC3996BFB576",
      "reads back the key folder's and a key file's DACL (tests/wine/dacl.sh).", inc=["shared"]),
]
# CMake interface targets that stand for vcpkg packages (vcpkg.json) plus DEFAULT_LIBS.
VCPKG_TARGETS = {"ismail_deps"}
SOLUTION_GUID = "09888999-A96D-430C-A331-959E2D094B2E"
# ---- end of the table ----

VC_PROJECT_TYPE = "8BC9CEB8-8B4A-11D0-8D11-00A0C91BC942"
CONFIGS = ("Debug", "Release")
COMPILED = (".c", ".cpp", ".cc", ".cxx")
HEADERS = (".h", ".hpp")


def die(msg):
    sys.stderr.write("gen-vcxproj.py: %s\n" % msg)
    sys.exit(1)


def win(path):
    return path.replace("/", "\\")


def guid_of(row):
    if row["guid"]:
        return row["guid"].upper()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "ismail:vcxproj:" + row["target"])).upper()


def read_build(build):
    """(source root, {target: (srcdir, [sources], [links])}) from a configured Windows build."""
    dirs_txt = os.path.join(build, "sources", "dirs.txt")
    if not os.path.isfile(dirs_txt):
        die("%s not found: configure a Windows build first, e.g. make win (docs/building-windows.md)" % dirs_txt)
    system = None
    for f in glob.glob(os.path.join(build, "CMakeFiles", "*", "CMakeSystem.cmake")):
        m = re.search(r'set\(CMAKE_SYSTEM_NAME "([^"]*)"\)', open(f).read())
        if m:
            system = m.group(1)
    if system != "Windows":
        die("%s is a %s build, not a Windows (mingw-w64) one: use build/win (make win)" % (build, system or "unknown"))
    m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", open(os.path.join(build, "CMakeCache.txt")).read(), re.M)
    if not m:
        die("%s/CMakeCache.txt names no source folder" % build)
    targets = {}
    for line in open(dirs_txt):
        if not line.strip():
            continue
        target, srcdir = line.rstrip("\n").split(" ", 1)
        lists = []
        for ext in (".txt", ".links"):
            p = os.path.join(build, "sources", target + ext)
            if not os.path.isfile(p):
                die("%s missing: re-run cmake on %s (CMake writes it when it generates)" % (p, build))
            lists.append([s for line in open(p) for s in line.strip().split(";") if s])
        targets.setdefault(target, (srcdir, lists[0], lists[1]))
    return os.path.normpath(m.group(1)), targets


class Project:
    """What one .vcxproj holds, from its row and CMake's lists."""

    def __init__(self, row, cmake_root, build, targets):
        self.row = row
        target = row["target"]
        srcdir, sources, links = targets[target]
        self.cmakelists = os.path.relpath(os.path.join(srcdir, "CMakeLists.txt"), cmake_root).replace(os.sep, "/")
        projdir = os.path.dirname(os.path.join(cmake_root, row["vcxproj"]))
        self.compile, self.resources, headers, self.none = [], [], set(), list(row["none"])
        for s in sources:
            p = os.path.normpath(s if os.path.isabs(s) else os.path.join(srcdir, s))
            if p == build or p.startswith(build + os.sep):
                continue                        # generated when building (messages.h)
            if not (p + os.sep).startswith(cmake_root + os.sep):
                die("%s: %s is outside the source tree" % (target, p))
            rel = win(os.path.relpath(p, projdir))
            low = p.lower()
            if low.endswith(COMPILED):
                self.compile.append(rel)
                h = os.path.splitext(p)[0] + ".h"
                if os.path.isfile(h):
                    headers.add(win(os.path.relpath(h, projdir)))
            elif low.endswith(".rc"):
                self.resources.append(rel)
            elif low.endswith(HEADERS):
                headers.add(rel)
            elif rel not in self.none:
                self.none.append(rel)
        headers.update(win(h) for h in row["headers"])
        self.headers = sorted(headers)

        by_target = {r["target"]: r for r in TARGETS}
        self.refs = []
        for lib in links:
            if lib in by_target and lib != target and lib not in [r["target"] for r in self.refs]:
                self.refs.append(by_target[lib])
        self.ref_paths = [win(os.path.relpath(os.path.join(cmake_root, r["vcxproj"]), projdir)) for r in self.refs]

        # Libraries: the row's, then what CMake links that is missing (through library targets too).
        self.libs = list(row["libs"])
        seen, todo = set(), [target]
        while todo:
            t = todo.pop(0)
            if t in seen or t not in targets:
                continue
            seen.add(t)
            for lib in targets[t][2]:
                if lib in by_target:
                    if by_target[lib]["kind"] == "lib":
                        todo.append(lib)
                elif (lib not in VCPKG_TARGETS and re.fullmatch(r"[A-Za-z0-9_.+-]+", lib)
                      and not lib.startswith("-")):
                    name = lib[:-4] if lib.lower().endswith(".lib") else lib
                    if row["kind"] != "lib" and name.lower() not in [l.lower() for l in self.libs]:
                        self.libs.append(name)

    def xml(self):
        r = self.row
        rel_top = win(os.path.relpath(".", os.path.dirname(r["vcxproj"]) or ".")) + "\\"
        if rel_top == ".\\":
            rel_top = ""

        def incdirs(dirs):
            return ";".join(d if d.startswith("$(") else "$(ProjectDir)%s%s" % (rel_top, win(d)) for d in dirs)

        ctype = "StaticLibrary" if r["kind"] == "lib" else "Application"
        ns = r["ns"] or re.sub(r"[^A-Za-z0-9_]", "_", r["target"])
        o = []
        w = o.append
        w('<?xml version="1.0" encoding="utf-8"?>')
        w("<!-- %s (%s): %s" % (r["target"], self.cmakelists, r["about"]))
        w("     Generated from CMake's source lists by scripts/gen-vcxproj.py (make vcxproj): do not edit. -->")
        w('<Project DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">')
        w('  <ItemGroup Label="ProjectConfigurations">')
        for c in CONFIGS:
            w('    <ProjectConfiguration Include="%s|x64">' % c)
            w("      <Configuration>%s</Configuration>" % c)
            w("      <Platform>x64</Platform>")
            w("    </ProjectConfiguration>")
        w("  </ItemGroup>")
        w('  <PropertyGroup Label="Globals">')
        w("    <VCProjectVersion>17.0</VCProjectVersion>")
        w("    <Keyword>Win32Proj</Keyword>")
        w("    <ProjectGuid>{%s}</ProjectGuid>" % guid_of(r))
        w("    <RootNamespace>%s</RootNamespace>" % ns)
        w("    <WindowsTargetPlatformVersion>10.0</WindowsTargetPlatformVersion>")
        w("  </PropertyGroup>")
        w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.Default.props" />')
        for c in CONFIGS:
            w("  <PropertyGroup Condition=\"'$(Configuration)|$(Platform)'=='%s|x64'\" Label=\"Configuration\">" % c)
            w("    <ConfigurationType>%s</ConfigurationType>" % ctype)
            w("    <UseDebugLibraries>%s</UseDebugLibraries>" % ("true" if c == "Debug" else "false"))
            w("    <PlatformToolset>v143</PlatformToolset>")
            if c == "Release":
                w("    <WholeProgramOptimization>true</WholeProgramOptimization>")
            w("    <CharacterSet>Unicode</CharacterSet>")
            w("  </PropertyGroup>")
        w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.props" />')
        w('  <ImportGroup Label="ExtensionSettings">')
        w("  </ImportGroup>")
        w('  <ImportGroup Label="Shared">')
        w("  </ImportGroup>")
        w('  <ImportGroup Label="PropertySheets">')
        w("    <Import Project=\"$(UserRootDir)\\Microsoft.Cpp.$(Platform).user.props\" "
          "Condition=\"exists('$(UserRootDir)\\Microsoft.Cpp.$(Platform).user.props')\" Label=\"LocalAppDataPlatform\" />")
        w("  </ImportGroup>")
        w('  <PropertyGroup Label="UserMacros" />')
        w("  <!-- vcpkg manifest mode: vcpkg.json at the top; static triplet (x64-windows-static, /MT) like")
        w("       the static mingw-w64 build; packages installed under build\\vs\\vcpkg_installed. -->")
        w('  <PropertyGroup Label="Vcpkg">')
        w("    <VcpkgEnableManifest>true</VcpkgEnableManifest>")
        w("    <VcpkgUseStatic>true</VcpkgUseStatic>")
        w("    <VcpkgInstalledDir>$(MSBuildThisFileDirectory)%sbuild\\vs\\vcpkg_installed\\</VcpkgInstalledDir>" % rel_top)
        w("  </PropertyGroup>")
        w("  <PropertyGroup>")
        w("    <OutDir>$(MSBuildThisFileDirectory)%sbuild\\vs\\$(Platform)\\$(Configuration)\\</OutDir>" % rel_top)
        w("    <IntDir>$(MSBuildThisFileDirectory)%sbuild\\vs\\obj\\$(ProjectName)\\$(Platform)\\$(Configuration)\\</IntDir>" % rel_top)
        w("    <TargetName>%s</TargetName>" % escape(r["target"]))
        for k, v in r["props"]:
            w("    <%s>%s</%s>" % (k, escape(v), k))
        w("  </PropertyGroup>")
        defines = DEFINES + list(r["defines"])
        for c in CONFIGS:
            rel = c == "Release"
            w("  <ItemDefinitionGroup Condition=\"'$(Configuration)|$(Platform)'=='%s|x64'\">" % c)
            w("    <ClCompile>")
            w("      <WarningLevel>Level4</WarningLevel>")
            w("      <!-- 4100: unreferenced parameter (CMake: -Wno-unused-parameter); 4996: the CRT's deprecation of standard C functions -->")
            w("      <DisableSpecificWarnings>4100;4996;%(DisableSpecificWarnings)</DisableSpecificWarnings>")
            if rel:
                w("      <FunctionLevelLinking>true</FunctionLevelLinking>")
                w("      <IntrinsicFunctions>true</IntrinsicFunctions>")
            w("      <PreprocessorDefinitions>%s;%%(PreprocessorDefinitions)</PreprocessorDefinitions>"
              % escape(";".join(defines + (["NDEBUG"] if rel else []))))
            if r["inc"]:
                w("      <AdditionalIncludeDirectories>%s;%%(AdditionalIncludeDirectories)</AdditionalIncludeDirectories>"
                  % escape(incdirs(r["inc"])))
            w("      <LanguageStandard_C>stdc11</LanguageStandard_C>")
            if r["cxx"]:
                w("      <LanguageStandard>stdcpp14</LanguageStandard>")
                w("      <ConformanceMode>true</ConformanceMode>")
                w("      <AdditionalOptions>/utf-8 %(AdditionalOptions)</AdditionalOptions>")
            else:
                w("      <AdditionalOptions>/utf-8 /experimental:c11atomics %(AdditionalOptions)</AdditionalOptions>")
            w("      <RuntimeLibrary>%s</RuntimeLibrary>" % ("MultiThreaded" if rel else "MultiThreadedDebug"))
            w("    </ClCompile>")
            if self.resources:
                w("    <ResourceCompile>")
                w("      <PreprocessorDefinitions>%s;%%(PreprocessorDefinitions)</PreprocessorDefinitions>" % escape(";".join(defines)))
                if r["rc_inc"]:
                    w("      <AdditionalIncludeDirectories>%s;%%(AdditionalIncludeDirectories)</AdditionalIncludeDirectories>"
                      % escape(incdirs(r["rc_inc"])))
                w("    </ResourceCompile>")
            if r["kind"] != "lib":
                w("    <Link>")
                w("      <SubSystem>%s</SubSystem>" % ("Windows" if r["kind"] == "gui" else "Console"))
                if rel:
                    w("      <EnableCOMDATFolding>true</EnableCOMDATFolding>")
                    w("      <OptimizeReferences>true</OptimizeReferences>")
                w("      <GenerateDebugInformation>true</GenerateDebugInformation>")
                w("      <AdditionalDependencies>%s%%(AdditionalDependencies)</AdditionalDependencies>"
                  % escape("".join(l + ".lib;" for l in self.libs)))
                w("    </Link>")
            w("  </ItemDefinitionGroup>")

        def group(tag, items):
            if items:
                w("  <ItemGroup>")
                for i in items:
                    w("    <%s Include=%s />" % (tag, quoteattr(i)))
                w("  </ItemGroup>")

        group("ClCompile", self.compile)
        if r["custom"]:
            o.extend(r["custom"].rstrip("\n").split("\n"))
        group("ResourceCompile", self.resources)
        group("ClInclude", self.headers)
        group("None", [win(n) for n in self.none])
        if self.refs:
            w("  <ItemGroup>")
            for ref, path in zip(self.refs, self.ref_paths):
                w("    <ProjectReference Include=%s>" % quoteattr(path))
                w("      <Project>{%s}</Project>" % guid_of(ref))
                w("    </ProjectReference>")
            w("  </ItemGroup>")
        w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.targets" />')
        w('  <ImportGroup Label="ExtensionTargets">')
        w("  </ImportGroup>")
        w("</Project>")
        return o


def solution():
    o = []
    w = o.append
    w("")
    w("Microsoft Visual Studio Solution File, Format Version 12.00")
    w("# Visual Studio Version 17")
    w("VisualStudioVersion = 17.0.31903.59")
    w("MinimumVisualStudioVersion = 10.0.40219.1")
    for r in TARGETS:
        name = os.path.splitext(os.path.basename(r["vcxproj"]))[0]
        w('Project("{%s}") = "%s", "%s", "{%s}"' % (VC_PROJECT_TYPE, name, win(r["vcxproj"]), guid_of(r)))
        w("EndProject")
    w("Global")
    w("\tGlobalSection(SolutionConfigurationPlatforms) = preSolution")
    for c in CONFIGS:
        w("\t\t%s|x64 = %s|x64" % (c, c))
    w("\tEndGlobalSection")
    w("\tGlobalSection(ProjectConfigurationPlatforms) = postSolution")
    for r in TARGETS:
        for c in CONFIGS:
            for what in ("ActiveCfg", "Build.0"):
                w("\t\t{%s}.%s|x64.%s = %s|x64" % (guid_of(r), c, what, c))
    w("\tEndGlobalSection")
    w("\tGlobalSection(SolutionProperties) = preSolution")
    w("\t\tHideSolutionNode = FALSE")
    w("\tEndGlobalSection")
    w("\tGlobalSection(ExtensibilityGlobals) = postSolution")
    w("\t\tSolutionGuid = {%s}" % SOLUTION_GUID)
    w("\tEndGlobalSection")
    w("EndGlobal")
    return o


def write(path, lines):
    text = "\n".join(lines).replace("\r\n", "\n").replace("\n", "\r\n")
    data = ("\ufeff" + text + "\r\n").encode("utf-8")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        if open(path, "rb").read() == data:
            return False
    except OSError:
        pass
    with open(path, "wb") as f:
        f.write(data)
    return True


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="Write the .vcxproj files and ISMail.sln from CMake's source lists.")
    ap.add_argument("build", help="a configured mingw-w64 CMake build folder (build/win)")
    ap.add_argument("--out", default=here, help="where to write them (default: the top of the checkout)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cmake_root, targets = read_build(build)

    names = [r["target"] for r in TARGETS]
    if len(set(names)) != len(names) or len({r["vcxproj"] for r in TARGETS}) != len(TARGETS):
        die("TARGETS lists a target or a .vcxproj twice")
    for r in TARGETS:
        if r["kind"] not in ("lib", "exe", "gui"):
            die("TARGETS row %s: kind %r is not lib, exe or gui" % (r["target"], r["kind"]))
        if r["target"] not in targets:
            die("CMake target %s is not in %s (configured with ISMAIL_BUILD_GUI=OFF?): "
                "generate from a full Windows build" % (r["target"], build))
    unlisted = [t for t in targets if t not in names]
    if unlisted:
        die("CMake target(s) %s have no row in TARGETS in scripts/gen-vcxproj.py: add one "
            "(target, .vcxproj, kind, GUID or None, what it is)" % ", ".join(unlisted))

    changed = []
    for r in TARGETS:
        p = Project(r, cmake_root, build, targets)
        if write(os.path.join(args.out, r["vcxproj"]), p.xml()):
            changed.append(r["vcxproj"])
    if write(os.path.join(args.out, "ISMail.sln"), solution()):
        changed.append("ISMail.sln")
    print("gen-vcxproj.py: %d projects and ISMail.sln in %s; %s" % (
        len(TARGETS), args.out, "changed: " + " ".join(changed) if changed else "no change"))


if __name__ == "__main__":
    main()
