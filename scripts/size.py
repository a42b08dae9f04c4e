#!/usr/bin/env python3
"""Code-size report and budget check for the Embedded Swift builds of scripts/cross.sh.

Every linked binary (built -Osize, -function-sections, --gc-sections) is split per module by
symbol: each function or data object that survived --gc-sections is attributed to the module
its mangled name starts with (`$e10MQTTPacket...` -> MQTTPacket; specialisations of a core
generic belong to the core module, stdlib generics instantiated for core types to the
stdlib). Sizes are ELF symbol sizes (readelf -s), classified by their section like `size`
does: text = allocated read-only (code + rodata), data = allocated writable, bss = NOBITS.

  scripts/size.py report  --out .build-cross --targets "host aarch64 armv7" --markdown docs/size.md
  scripts/size.py check   --out .build-cross --budget Toolchains/size-budget.txt
"""
import argparse
import bisect
import collections
import datetime
import os
import re
import subprocess
import sys

TARGETS = {
    "host": {"triple": "x86_64-unknown-linux-gnu", "qemu": [], "label": "x86_64 (host)"},
    "aarch64": {"triple": "aarch64-none-none-elf", "qemu": ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"], "label": "aarch64"},
    "armv7": {"triple": "armv7-none-none-eabi", "qemu": ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"], "label": "armv7 Thumb-2"},
}
MQTT = ["MQTTPacket", "MQTTSession", "MQTTClient", "MQTTTransport"]
ONEM2M = ["OneM2M", "OneM2MClient", "OneM2MCAPI", "COneM2M"]
TRANSPORT = ["PosixTransport", "CPosix"]
# The core as ../shared/DESIGN.md and issue 4 define it (MQTT + oneM2M + JSON: MQTTPacket,
# MQTTSession, MQTTClient, MQTTTransport, OneM2M and the client layer, OneM2MClient or the C API);
# the POSIX socket shim is one of the pluggable shims, listed and gated on its own.
CORE = MQTT + ONEM2M
ORDER = CORE + TRANSPORT + ["TLSTransport", "Swift stdlib", "Swift runtime", "app", "libc/crt/ELF"]

# The binaries measured, and which modules are "the app" in each.
BINARIES = [
    ("MQTTClientProbe", "minimal MQTT client (connect, subscribe, publish QoS 1, receive, keep-alive)", ["MQTTClientProbe"]),
    ("EmbeddedAE", "minimal AE over the Swift API (register, container, contentInstance, retrieve, deregister)", ["EmbeddedAE"]),
    ("c-daemon", "C daemon over the C API, libonem2m.a (register, container, subscription, contentInstance, notifications)", []),
    ("c-daemon-lto", "the same C daemon linked by clang + lld against libonem2m-lto.a (bitcode: whole-program optimised with the daemon)", []),
]

UNICODE_TABLE = re.compile(r"_swift_stdlib_(getNormData|getComposition|getDecompose|getGraphemeBreak|getWordBreak|"
                           r"isExtendedPictographic|getScalar|getSpecialMapping|getMapping|getNameAlias|getAge|"
                           r"getGeneralCategory|getNumericType|getNumericValue|getScriptExtension|nfd|nfc|grapheme|word|case|special)")

# The stdlib's String implementation (any use of String's storage or views links some of these):
# the Embedded programs here use none, and `make size-check` keeps it that way (on armv7 it was
# 16-17 KB of code per program, outside the core rows).
STRING_CODE = re.compile(r"_String(Guts|Object|Breadcrumbs)|SS8UTF8ViewV|SS9UTF16ViewV")


def readelf(args, path):
    return subprocess.run(["readelf", "-W"] + args + [path], check=True, capture_output=True, text=True).stdout


def sections(path):
    """index -> (name, kind) with kind text|data|bss|None, and Berkeley totals."""
    out = {}
    totals = collections.Counter()
    for line in readelf(["-S"], path).splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)", line)
        if not m:
            continue
        idx, name, typ, size, flags = int(m.group(1)), m.group(2), m.group(3), int(m.group(4), 16), m.group(5)
        kind = None
        if "A" in flags:
            if typ == "NOBITS":
                kind = "bss"
            elif "W" in flags:
                kind = "data"
            else:
                kind = "text"
        out[idx] = (name, kind)
        if kind:
            totals[kind] += size
    return out, totals


class PerModule(collections.defaultdict):
    """module -> Counter(text/data/bss), plus `symbols`."""
    symbols = ()


def defined_names(obj):
    """Names defined in an object file (the application's own code). Only its unmangled (C) names are
    used: in Embedded Swift an executable's object also holds copies of every core function it uses."""
    names = set()
    # Bitcode objects (the LTO builds' Swift code) hold no C-level names of interest.
    if os.path.exists(obj) and open(obj, "rb").read(4) == b"\x7fELF":
        for line in readelf(["-s"], obj).splitlines():
            p = line.split()
            if len(p) >= 8 and p[0].endswith(":") and p[6] != "UND" and p[3] in ("FUNC", "OBJECT"):
                names.add(p[7])
    return names


def module_of(sym, app, app_names=frozenset()):
    m = re.match(r"^\$[es](\d+)(\w+)", sym)
    if m:
        name = m.group(2)[: int(m.group(1))]
        return "app" if name in app else name
    if sym.startswith("$e") or sym.startswith("$s"):
        return "Swift stdlib"
    if sym.startswith("swift_") or sym.startswith("_swift") or sym.startswith("__swift"):
        return "Swift runtime"
    if sym.startswith("cposix_"):
        return "CPosix"
    if sym == "onem2m_strerror":
        return "COneM2M"
    if sym.startswith("onem2m_"):
        return "OneM2MCAPI"
    if sym == "main" or sym in app_names:  # the program's own C-level names
        return "app"
    return "libc/crt/ELF"


def source_spans(path):
    """(start, end, module) for every run of code the DWARF line table (readelf -wL) gives a source
    file under Sources/<module>/ (any module of the package, core or not), sorted; empty without
    debug information."""
    out = subprocess.run(["readelf", "-W", "-wL", path], capture_output=True, text=True).stdout
    rows, source = [], None
    for line in out.splitlines():
        m = re.match(r"^(\S.*):$", line)
        if m:
            source = m.group(1)
            continue
        m = re.match(r"^\S+\s+(\d+|-)\s+(0x[0-9a-f]+)", line)
        if m and source is not None:
            rows.append((int(m.group(2), 16), source, m.group(1) == "-"))
    spans = []
    for (a, src, end), (b, _, _) in zip(rows, rows[1:]):
        mm = re.search(r"(?:^|/)Sources/([^/]+)/", src)
        if not end and b > a and mm:
            # The C API's TLS glue extends TLSTransport's types, and counts with TLSTransport (as its
            # symbols do; see Toolchains/size-budget.txt).
            spans.append((a, b, "TLSTransport" if src.endswith("Sources/OneM2MCAPI/TLS.swift") else mm.group(1)))
    return sorted(spans)


def attribute(path, app, app_object=None):
    secs, totals = sections(path)
    app_names = defined_names(app_object) if app_object else frozenset()
    per = PerModule(collections.Counter)
    seen = set()
    symbols = []
    unicode_syms, foundation_syms, string_syms = [], [], []
    funcs = []  # (start, size, module) of every function
    for line in readelf(["-s"], path).splitlines():
        p = line.split()
        if len(p) < 8 or not p[0].endswith(":"):
            continue
        value, size, typ, ndx, name = p[1], p[2], p[3], p[6], p[7]
        if UNICODE_TABLE.search(name):
            unicode_syms.append(name)
        if "Foundation" in name:
            foundation_syms.append(name)
        if STRING_CODE.search(name):
            string_syms.append(name)
        if not ndx.isdigit() or typ in ("SECTION", "FILE"):
            continue
        size = int(size, 0) if size.startswith("0x") else int(size)
        if size == 0:
            continue
        sec = secs.get(int(ndx))
        if not sec or not sec[1]:
            continue
        key = (int(ndx), value)
        if key in seen:  # aliases of one object
            continue
        seen.add(key)
        module = module_of(name, app, app_names)
        per[module][sec[1]] += size
        if sec[1] == "text" and typ == "FUNC":
            funcs.append((int(value, 16) & ~1, size, module))
        if sec[1] == "text" and module in CORE + TRANSPORT:
            symbols.append((size, module, name))
    # Code the optimizer inlined across modules (whole-program builds inline much of it: core code
    # into the program's own functions, TLS glue into the C API's entry points) counts for the module
    # its source lies in, by the line table, so no figure shrinks because code moved into another
    # module's function. Line-0 (compiler-generated) and stdlib code stays with the function's module.
    moved = collections.Counter()  # (from, to) -> bytes
    spans = source_spans(path)
    if spans:
        starts = [a for a, _, _ in spans]
        for start, size, owner in funcs:
            end = start + size
            k = max(0, bisect.bisect_right(starts, start) - 1)
            while k < len(spans) and spans[k][0] < end:
                a, b, module = spans[k]
                overlap = min(b, end) - max(a, start)
                if overlap > 0 and module != owner:
                    moved[(owner, module)] += overlap
                k += 1
        for (owner, module), n in moved.items():
            per[module]["text"] += n
            per[owner]["text"] -= n
    attributed = collections.Counter()
    for c in per.values():
        attributed.update(c)
    rest = per["libc/crt/ELF"]
    for k in ("text", "data", "bss"):
        rest[k] += max(0, totals[k] - attributed[k])  # sections without symbols: PLT, dynsym, eh_frame...
    per.symbols = symbols  # (size, module, mangled name) of every core text symbol
    per.inlined = moved  # (owner, module) -> bytes of module's code inlined into owner's functions
    per.string_syms = sorted(set(string_syms))  # the stdlib's String code, if linked
    return per, totals, sorted(set(unicode_syms)), sorted(set(foundation_syms))


def demangle(names):
    try:
        out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True,
                             text=True, timeout=60).stdout.splitlines()
        return out if len(out) == len(names) else names
    except (OSError, subprocess.SubprocessError):
        return names


def largest(per, modules, n):
    syms = sorted((x for x in per.symbols if x[1] in modules), reverse=True)[:n]
    names = demangle([x[2] for x in syms])
    return [(size, module, name) for (size, module, _), name in zip(syms, names)]


def clones(per):
    """Functions present more than once (one copy per closure or generic specialisation)."""
    syms = per.symbols
    names = demangle([x[2] for x in syms])
    groups = collections.defaultdict(list)
    for (size, module, _), name in zip(syms, names):
        if name.startswith("specialized "):
            groups[(module, name[len("specialized "):])].append(size)
    return sorted(((sum(v) - max(v), len(v), m, n) for (m, n), v in groups.items() if len(v) > 1), reverse=True)


def run(target, binary, *args):
    cmd = TARGETS[target]["qemu"] + [binary] + list(args)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def ram_figures(out, target):
    text = run(target, os.path.join(out, target, "bin", "MQTTClientProbe"))
    figures = dict(re.findall(r"ram: (.+?) (\d+) B", text))
    arena = run(target, os.path.join(out, target, "bin", "c-daemon"), "--arena-size")
    m = re.search(r"(\d+)", arena)
    if m:
        figures["C API arena (onem2m_arena_size, defaults)"] = m.group(1)
    return figures


def measure(out, targets):
    result = {}
    for t in targets:
        result[t] = {}
        for binary, _, app in BINARIES:
            path = os.path.join(out, t, "bin", binary)
            if not os.path.exists(path):
                sys.exit(f"size: {path} missing (scripts/cross.sh build {t})")
            # c-daemon-lto is c-daemon.o linked against the bitcode archive.
            obj = binary[: -len("-lto")] if binary.endswith("-lto") else binary
            result[t][binary] = attribute(path, set(app), os.path.join(out, t, "obj", obj + ".o"))
    return result


def group_sum(per, modules, kind="text"):
    return sum(per[m][kind] for m in modules)


def fmt(n):
    return f"{n:,}"


def budgets(path):
    rows = []
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, target, binary, modules, goal, ceiling = line.split()
        rows.append((name, target, binary, modules.split("+"), None if goal == "-" else int(goal), int(ceiling)))
    return rows


def check(result, path, strict=False):
    """Lines for the report, and the names that fail (above the ceiling; above the goal if strict)."""
    failures = []
    lines = []
    for name, target, binary, modules, goal, ceiling in budgets(path):
        if target not in result:
            continue
        per = result[target][binary][0]
        value = group_sum(per, modules)
        if value > ceiling:
            status = "FAIL (over ceiling)"
            failures.append(name)
        elif goal is not None and value > goal:
            status = "OVER GOAL"
            if strict:
                failures.append(name)
        else:
            status = "ok"
        against = f"goal {fmt(goal):>6} B ({value / goal:.2f}x)" if goal is not None else f"{'no goal':>22}"
        lines.append(f"{status:19} {name:15} {fmt(value):>7} B text  {against}  ceiling {fmt(ceiling)} B"
                     f"  [{target}, {binary}: {'+'.join(modules)}]")
    return lines, failures


def markdown(result, out, targets, budget_path, command):
    version = subprocess.run(["swiftc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = []
    md.append("# Code size of the Embedded Swift core\n")
    md.append(f"Generated by `{command}` on {now} with {version}.")
    md.append("Do not edit by hand: run `make size` again.\n")
    md.append("Every figure is measured on a **linked** binary built with `-Osize -wmo "
              "-Xfrontend -function-sections` and linked with `--gc-sections` (toolsets in `Toolchains/`, "
              "build in `scripts/cross.sh`). The Swift programs (`MQTTClientProbe`, `EmbeddedAE`) are "
              "whole-program builds: every Swift module compiled to LLVM bitcode (`-lto=llvm-full`) and "
              "optimised as one program by lld, as a Swift firmware would be built. `c-daemon` links "
              "`libonem2m.a`, which holds native code (one object, made from the modules' bitcode by an lld LTO "
              "link that exports only the C API, so the rest is internalised as in a whole program, then compiled "
              "by clang; any C toolchain, gcc and GNU ld included, can link it), so its row is the code every C daemon gets; `c-daemon-lto` is the same daemon linked by "
              "clang with lld against `libonem2m-lto.a`, the library as bitcode, which the link optimises "
              "together with the daemon's calls into it (the C code itself stays native). What survives the linker is split per module by symbol "
              "(`scripts/size.py`): a function belongs to the module its mangled name starts with, so "
              "specialisations of a core generic count for the core module, and stdlib generics "
              "instantiated for core types count as *Swift stdlib*. Core code the optimiser inlined into "
              "the program's own functions counts for the core module it came from, by the DWARF line table "
              "(the whole-program builds carry `-g`; debug sections are not loaded, so they are not in "
              "these figures). text = code + read-only data, "
              "as `size` reports it. *app* is the program's own code and data (for the C daemons: "
              "`main.c`, including its 32 KB static arena in bss), *libc/crt/ELF* the C start-up code, PLT and "
              "dynamic-linking tables (libc itself is a shared library and not counted). *TLSTransport* (in the C daemons: "
              "the `mqtts://` transport over mbedTLS and the C API's TLS glue) is listed but not counted as core.\n")

    md.append("## Budgets\n")
    lines, failures = check(result, budget_path)
    md.append("Checked by `make size-check` (part of `make test`) against `Toolchains/size-budget.txt`: "
              "*goal* is the budget to meet (coreMQTT v2.3.1: 7.0 KB at -Os for the MQTT layers; 24 KB for "
              "the whole core), *ceiling* a regression gate at the size measured when the budget was set. "
              "`make size-check` fails above the ceiling, and above the goal with `SIZE_STRICT=1`. "
              "*The core* is what issue 4 and `DESIGN.md` name: MQTT + oneM2M + JSON, i.e. MQTTPacket, "
              "MQTTSession, MQTTClient, MQTTTransport, OneM2M and the client layer (OneM2MClient in a Swift "
              "program; the C API, OneM2MCAPI + COneM2M, in a C daemon). The POSIX socket shim (PosixTransport "
              "+ CPosix) is a pluggable shim like the mbedTLS one: it has its own row, and the `*-with-shim` "
              "rows (no goal, a ceiling) keep the totals with it, which the core rows counted until session 11.\n")
    md.append("```")
    md.extend(lines)
    md.append("```\n")

    for binary, desc, _ in BINARIES:
        md.append(f"## `{binary}`: {desc}\n")
        header = "| module |" + "".join(f" {TARGETS[t]['label']} text | data | bss |" for t in targets)
        md.append(header)
        md.append("|---|" + "---:|---:|---:|" * len(targets))
        for m in ORDER:
            if all(sum(result[t][binary][0][m].values()) == 0 for t in targets):
                continue
            row = f"| {m} |"
            for t in targets:
                c = result[t][binary][0][m]
                row += f" {fmt(c['text'])} | {fmt(c['data'])} | {fmt(c['bss'])} |"
            md.append(row)
        for label, mods in (("**MQTT layers** (Packet+Session+Client+Transport)", MQTT),
                            ("**core** (MQTT + oneM2M/JSON)", CORE),
                            ("core + POSIX shim (PosixTransport+CPosix)", CORE + TRANSPORT)):
            row = f"| {label} |"
            for t in targets:
                per = result[t][binary][0]
                row += f" **{fmt(group_sum(per, mods))}** | {fmt(group_sum(per, mods, 'data'))} | {fmt(group_sum(per, mods, 'bss'))} |"
            md.append(row)
        row = "| whole binary |"
        for t in targets:
            tot = result[t][binary][1]
            row += f" {fmt(tot['text'])} | {fmt(tot['data'])} | {fmt(tot['bss'])} |"
        md.append(row + "\n")

    if "armv7" in targets:
        md.extend(analysis(result, out))

    md.append("## Static RAM\n")
    md.append("All buffers of a session are one arena the application reserves (`SessionCapacities().arenaBytes`: "
              "transmit 4096 + receive 4096 + replay store 8192 B and the in-flight, duplicate-detection and "
              "subscription tables). Figures printed by the binaries themselves under each target:\n")
    figs = {t: ram_figures(out, t) for t in targets}
    keys = []
    for t in targets:
        for k in figs[t]:
            if k not in keys:
                keys.append(k)
    md.append("| | " + " | ".join(TARGETS[t]["label"] for t in targets) + " |")
    md.append("|---|" + "---:|" * len(targets))
    for k in keys:
        md.append(f"| {k} | " + " | ".join(fmt(int(figs[t].get(k, 0))) + " B" for t in targets) + " |")
    md.append("")

    md.append("## No Unicode tables, no Foundation\n")
    md.append("Every linked Embedded binary (`EmbeddedRunner`, `EmbeddedRunner-native`, `EmbeddedAE`, `MQTTClientProbe`, `c-daemon`, `c-daemon-lto`) is "
              "searched for the stdlib's Unicode data-table symbols (`_swift_stdlib_getNormData`, "
              "`_swift_stdlib_getGraphemeBreakProperty`, ... from `libswiftUnicodeDataTables.a`, which is "
              "never linked: any use would fail to link) and for Foundation symbols:\n")
    for t in targets:
        found = []
        for binary, _, _ in BINARIES:
            _, _, uni, fnd = result[t][binary]
            if uni or fnd:
                found.append(f"{binary}: {', '.join((uni + fnd)[:5])}")
        md.append(f"- {TARGETS[t]['label']}: " + ("**found** " + "; ".join(found) if found else "none found"))
    md.append("")
    found = [f"{TARGETS[t]['label']} {binary}: {', '.join(result[t][binary][0].string_syms[:3])}"
             for t in targets for binary, _, _ in BINARIES if result[t][binary][0].string_syms]
    md.append("Nor any of the stdlib's `String` code (symbols of `_StringGuts`, `_StringObject`, `_StringBreadcrumbs`, "
              "`String.UTF8View`, `String.UTF16View`; checked by `make size-check` in every binary above): "
              + ("**found** " + "; ".join(found) if found else "none found") + ".\n")
    md.append("The API keeps `String` forms for host programs: every `String`-taking call (`TCPTransport(host:)`, "
              "`TLSConfiguration.Source.file(_:)`, `serverName`, `OneM2MConfiguration(originator:)`, the requests "
              "of `OneM2MClient`) has a byte form (`UnsafeRawBufferPointer`, `[UInt8]` or `ByteString`) that the "
              "`String` form goes through. `EmbeddedAE` builds its paths as `ByteString`s and writes its output "
              "with `cposix_write_all`, and the C API uses the byte forms, so their *Swift stdlib* lines are only "
              "array code. With `String` (string concatenation, interpolated `print`s and the `String` forms, as "
              "`EmbeddedAE` was until session 8) the armv7 AE linked 17,034 B of stdlib `String` code (whole "
              "binary 55,857 B, now 40,238 B), and the C daemon 16,240 B for the broker's host name and the "
              "tls_* paths alone (whole binary 450,928 B, now 433,368 B).\n")
    return "\n".join(md), failures


def analysis(result, out):
    probe = result["armv7"]["MQTTClientProbe"][0]
    ae = result["armv7"]["EmbeddedAE"][0]
    capi = result["armv7"]["c-daemon"][0]
    mqtt = group_sum(probe, MQTT)
    md = ["## Where the bytes go, and what would shrink them\n"]
    md.append(f"The MQTT layers link to **{fmt(mqtt)} B** of armv7 Thumb-2 text in the minimal client, "
              f"{mqtt / 7168:.2f}x coreMQTT's 7.0 KB. What it is *not*:\n")
    md.append(f"- the Swift runtime or stdlib: {fmt(sum(probe['Swift stdlib'].values()))} B of stdlib and "
              f"{fmt(sum(probe['Swift runtime'].values()))} B of runtime in the whole probe (no `String`, no "
              "Unicode tables, no existentials, no metadata to speak of);")
    md.append("- overflow checks: `-Ounchecked` made the MQTT layers only about 2 % smaller; the LLVM machine "
              "outliner (`-Xllvm -enable-machine-outliner=always`) about 1.5 % (measured on this code with "
              "`CROSS_SWIFT_FLAGS`, see `scripts/cross.sh`, before the whole-program builds);")
    md.append("- `print`, typed-throw metadata or generics metadata: none of it survives `--gc-sections` here.\n")
    md.append("It is the amount of logic, some of it beyond what coreMQTT does in 7.0 KB (coreMQTT keeps no "
              "payload copies, does no duplicate detection, no reconnect loop), plus code the optimizer clones; "
              "the armv7 toolset also gives up LLVM's load/store merging (about 1.6 %, [known-issues.md](known-issues.md)). "
              "Largest MQTT-layer functions in the minimal client (armv7, bytes):\n")
    md.append("| bytes | module | function |")
    md.append("|---:|---|---|")
    for size, module, name in largest(probe, MQTT, 16):
        md.append(f"| {size} | {module} | `{name[:110]}` |")
    md.append("")
    md.append("Largest oneM2M/JSON functions in the minimal AE (armv7, bytes):\n")
    md.append("| bytes | module | function |")
    md.append("|---:|---|---|")
    for size, module, name in largest(ae, ["OneM2M", "OneM2MClient"], 12):
        md.append(f"| {size} | {module} | `{name[:110]}` |")
    md.append("")
    for label, per in (("EmbeddedAE", ae), ("c-daemon", capi)):
        dup = clones(per)
        if dup:
            md.append(f"Code cloned per call site in `{label}` (one specialisation per distinct closure or type; "
                      "extra bytes beyond the first copy):\n")
            md.append("| extra bytes | copies | module | function |")
            md.append("|---:|---:|---|---|")
            for extra, n, module, name in dup[:8]:
                md.append(f"| {extra} | {n} | {module} | `{name[:100]}` |")
            md.append("")
    calls = libgcc_calls(os.path.join(out, "armv7", "bin", "EmbeddedAE"))
    if calls is not None:
        md.append("Calls from core code into libgcc's integer helpers in `EmbeddedAE` (armv7). A 64-bit shift by a "
                  "variable amount becomes a call with register-pair code around it (the JSON reader's and writer's "
                  "container stacks cost 1.1 KB that way until session 5); a 32-bit division is a call because "
                  "armv7-a need not have a divide instruction, and at -Osize even a division by a constant, which "
                  "LLVM would otherwise turn into a multiply:\n")
        if calls:
            md.append("| calls | helper | function |")
            md.append("|---:|---|---|")
            for n, helper, name in calls:
                md.append(f"| {n} | `{helper}` | `{name[:100]}` |")
        else:
            md.append("None.")
        md.append("")
    md.append(PROPOSALS)
    return md


def libgcc_calls(path, objdump="arm-linux-gnueabihf-objdump"):
    """(count, helper, function) for every call from a core function to a libgcc arithmetic
    helper (`__aeabi_*`, `__*di3`, `__*si3`, ...) in an armv7 binary; None without objdump."""
    funcs = []
    for line in readelf(["-s"], path).splitlines():
        p = line.split()
        if len(p) >= 8 and p[0].endswith(":") and p[3] == "FUNC" and p[2].isdigit() and int(p[2]) > 0:
            funcs.append((int(p[1], 16) & ~1, int(p[2]), p[7]))
    funcs.sort()
    helpers = {a: n for a, _, n in funcs if re.match(r"__(aeabi_[a-z]*(div|mod|mul|sh|ls|as)|[a-z]+[ds]i3$|u?divmod[ds]i4$)", n)}
    try:
        dis = subprocess.run([objdump, "-d", "--no-show-raw-insn", path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    starts = [a for a, _, _ in funcs]
    counts = collections.Counter()
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+blx?\s+([0-9a-f]+)\b", line)
        if not m or (int(m.group(2), 16) & ~1) not in helpers:
            continue
        at = int(m.group(1), 16)
        k = bisect.bisect_right(starts, at) - 1
        if k < 0 or at >= funcs[k][0] + funcs[k][1] or module_of(funcs[k][2], set()) not in CORE + TRANSPORT:
            continue
        counts[(funcs[k][2], helpers[int(m.group(2), 16) & ~1])] += 1
    names = demangle([name for name, _ in counts])
    return sorted(((n, helper, dn) for ((_, helper), n), dn in zip(counts.items(), names)), key=lambda r: (-r[0], r[2]))


PROPOSALS = """### Done so far, and what would shrink it further

Applied (armv7, measured with `make size-check` before and after each):

- **Session 11: every row under its goal.** The core rows count the core as issue 4 and `DESIGN.md`
  name it (MQTT + oneM2M + JSON, the client layer included; the POSIX socket shim, 1,534 B, has its own
  row, and the `*-with-shim` rows keep the old totals). The armv7 toolset turns LLVM's ARM load/store
  optimiser off, which cost 118 / 380 / 508 / 518 B (MQTT layers / Swift core / C core / LTO C core):
  at -Osize it clobbered r10, Swift's `self`, in main's own `JSONValue` accessors
  ([known-issues.md](known-issues.md)). With the pass off, `SessionLayout.init` is inlined again
  (-42 B). The third MQTT round (-370 B on its own): `MQTTSession.connect` hands the configuration's
  arrays to the CONNECT encoder without three nested closures (-204 B), `MQTTClient.note` inlined with
  its failure half out of line, body and payload views made from pointer and count (no range traps),
  filters read through their span (no `Result` boxing), the back-off by shifts, one handler call site
  in `poll` and `subscribeAndWait`.
  Then `SessionConfiguration` and `OneM2MConfiguration` built by their memberwise initialisers (a field-by-field
  initialiser made -Osize return a copy, with a retain and release per array field: 116 B and 218 B
  copy routines) and `OneM2MClient`'s `withBytes` through the span: MQTT layers 7,002 B, cores
  23,426 / 23,898 / 24,054 B.
- **2026-11-23: `libonem2m.a` internalised.** Core in the C daemon 27,116 -> 24,424 B (aarch64
  40,192 -> 34,932 B, x86_64 38,884 -> 35,725 B), now level with the LTO C daemon (24,596 B). lld links
  the C API modules' bitcode as a shared object whose version script exports only `onem2m_*`, with
  `--lto-emit-llvm`, and clang compiles the optimised, internalised module to the native object
  (`-disable-llvm-passes`; the `-g` line tables go through). The relocatable link it replaces had to
  keep every symbol global, so LTO could not inline single-caller functions, drop dead arguments or
  propagate constants across them.
- **Session 10: three size rounds and a relocatable-LTO C library.** MQTT layers 8,378 -> 7,428 B,
  core in the Swift AE 28,410 -> 25,680 B, in the C daemon 32,608 -> 28,454 B, in the LTO C daemon
  29,110 -> 25,850 B. The MQTT session sends CONNECT through an SPI encoder without a Will (the
  public `ConnectOptions` form and it share one body: -344 B), decodes and handles each server packet
  in one switch, keeps one-byte fields after the words (a moved session or configuration no longer
  copies around padding), and the client keeps a pending disconnect as a flag, an error and a delay
  instead of a `ClientEvent?` (-156 B); a published packet's fixed header is written once its length
  is known and the body slid down to it. The C API writes its primitives with `writeFixedParameters`
  (it never sets `ot`, `rqet` or `rcn`, whose writers pulled in the timestamp and calendar code:
  -1,418 B in the C daemon). In Embedded builds the JSON string scans and comparisons are byte loops
  (hosts keep the word and vector scans), and `ByteString.makeIterator`, `ByteSink.append` and
  `JSONWriter.emitSeparator` are out of line. `libonem2m.a` holds one native object that `ld.lld -r`
  makes from the modules' bitcode (cross-module inlining, one copy of each specialisation; -708 B
  when measured alone); gcc and GNU ld link it (`c-daemon-gcc` runs end to end on every target).
  Tried and not kept, among others: `SessionLayout.init` inlined (-44 B, but the armv7 runner then
  failed 3 session-creation checks under qemu: not understood, see the closing note of session 10),
  a shared wait loop for `connect` and `subscribeAndWait` (+42 B), `JSONWriter.reserve` out of line
  (+1,962 B, an inlining cascade).

- **No `String` in the Embedded programs (session 8).** Every `String`-taking API has a byte form
  (`TCPTransport(host: UnsafeRawBufferPointer, ...)`, `TLSTransport(host:...)`, `.file(path:)`,
  `serverNameBytes`, the `ByteString` requests and configuration of `OneM2MClient`); the C API and
  `EmbeddedAE` use them. Whole binaries: the AE 55,857 -> 40,238 B, the C daemon 450,928 -> 433,368 B,
  the LTO C daemon 441,816 -> 428,637 B (the stdlib's `String` code is outside the core rows, but it
  is flash). The core rows moved a little too (the `String` wrappers are gone from the links): AE
  30,228 -> 29,766 B, C daemon 33,100 -> 32,882 B, LTO 29,830 -> 29,682 B.

- **A bitcode C library for clang + lld links (session 7).** `libonem2m-lto.a` holds the same modules
  as LLVM bitcode; a C daemon linked against it by clang with lld is optimised with the library as one
  program (`c-daemon-lto`, run end to end on every target). The C daemon's core 33,440 -> 30,052 B,
  its whole binary 451 -> 442 KB (less stdlib and TLS code too). `libonem2m.a` stays native for gcc
  and GNU ld, so the `core-c-api` row is unchanged. Attribution by the line table now covers every
  function, not only the program's own: TLS code inlined into the C API's entry points counts for
  TLSTransport, outside the core, and core code inlined into another core module's function for its
  own module (the core totals of the Swift programs did not change).
- **Clock readings in the machine word (session 7).** `MonotonicClock.nowMilliseconds()` returns
  `Int`, and the session, client and oneM2M client keep times, deadlines and timeouts as `Int`: on
  armv7 every timer comparison and deadline was a 64-bit operation on register pairs. As coreMQTT's
  `uint32_t` clock, a 32-bit board's readings wrap every 2^31 ms (24.8 days); only differences are
  compared (`millisecondsLeft`, `earlier`), and timeouts are bounded to 2^30 ms there (2^40 on 64-bit
  targets). Checked across the wrap by the runner under qemu-arm. MQTT layers 9,468 -> 9,048 B, core
  in the Swift AE 30,748 -> 30,386 B, in the C daemon 33,910 -> 33,440 B; the session struct 235 ->
  203 B and the client 327 -> 267 B of RAM.
- **Whole-program builds of the Swift programs (session 6).** Each core module is also compiled to
  bitcode (`-lto=llvm-full -g`) and the Swift programs are linked from it by lld, which inlines
  single-use functions across modules, drops unused arguments and keeps only what the program
  reaches. Counted conservatively (core code inlined into the program's own functions is added back
  to its module): MQTT layers 10,218 -> 9,468 B, core in the Swift AE 34,364 -> 30,808 B; whole
  binaries 17,755 -> 14,775 B (probe) and 68,492 -> 56,402 B (AE, of which 5.6 KB less stdlib
  `String` code). `libonem2m.a` keeps native objects, so the C daemon's row does not move. Both
  forms are tested: the runner (LTO) and `EmbeddedRunner-native` under qemu, the AE and the C daemon
  end to end.

- **Publishing in two out-of-line halves.** The optimizer cloned the whole publish path (about 1.2 KB)
  once per distinct `writePayload` closure. `publish(writePayload:)` is now `stagePublish` + the closure +
  `finishPublish`, and `OneM2MClient.send` writes a request in two out-of-line halves around the content
  closure, so only a few lines are cloned per closure (the C API already routed its requests through one
  `Outgoing` enum: 53.8 -> 45.0 KB earlier).
- **A client-side decoder.** The session decodes with `PacketDecoder.decodeServerPacket`, which leaves
  CONNECT, SUBSCRIBE and UNSUBSCRIBE to the full decoder; a client rejects them by type (a *malformed*
  CONNECT from a server is now `unexpectedPacket`, not `protocolViolation`; both close the connection).
  MQTT layers 14.4 -> 13.7 KB.
- **Calendar arithmetic in the native word** (days from/to civil dates ran in `Int64`, so each division
  was a libgcc call): -540 B for the AE and the C daemon.
- **Fixed JSON shapes from templates** (`JSONWriter.fill(template:)`): the C API's four content shapes
  and the contentInstance content are one call each instead of a dozen writer calls.
- **No copies of large structs per call.** A non-mutating method on a struct gets a copy of it: the
  session (251 B), `OneM2MClient` (456 B) and the C API's client (512 B) were copied by memcpy on every
  call of such a helper. The helpers are `mutating` now (passed by address).
- **One copy of each answer, error path and UTF-8 access.** Code the optimizer inlined per call site:
  the three answers in `OneM2MClient.serve` and the four in the C API's `serve`, the session's five
  `queueSmall` closures, `String.UTF8View` access specialised four times, `report`/`lose` in the client
  loop. Each is one out-of-line call now.
- **A flat server-packet decoder** (`PacketDecoder.decodeFromServer` returns a `ServerPacket` record)
  instead of moving 60-byte `Packet` enums through the session; one zero fill for the session tables.
- **Wrapping arithmetic where the bounds are known** (deadlines, statistics counters, buffer offsets),
  each with the reason it cannot overflow; timers also keep working when the clock passes `Int64.max`,
  and counters no longer trap on a 32-bit board after 2^31 packets.
- **oneM2M helpers:** one topic writer (a topic is a filter without wildcards) and one out-of-line level
  comparison; timestamps formatted with the second of the day in the native word (no 64-bit library
  divisions); `op`/`ty`/`rcn`/`rsc` read by one non-generic unsigned reader instead of
  `JSONValue.integer<T>` specialised per type; wrapping accumulation in the digit parsers, whose
  bounds are checked first (each boundary has a test).
- Together (that round): MQTT layers 13.7 -> 11.8 KB; core in the Swift AE 45.7 -> 42.6 KB; core in the
  C daemon 45.4 -> 42.1 KB, while the JSON speed work added about 0.8 KB (the request's fixed parameters
  as one run).
- **One copy in Embedded builds, inlined on hosts**, written as a conditional attribute
  (`#if hasFeature(Embedded) @inline(never) #endif`, or `@inline(__always)` under `!hasFeature(Embedded)`):
  `ByteString.Iterator.next` had been inlined into every loop over logical bytes (-556 B); the string
  scans, the validator's member reader and slot lookup, `levelEquals`, `cBytes`, `finishPrimitive`, the
  primitive views' text and integer readers likewise. Hosts keep the inlined, faster form.
- **No per-byte `String.UTF8View` loop in `TCPTransport.init`** (the host name is copied from the string's
  contiguous UTF-8 in one pass): -1.1 KB.
- **MQTT layers (second round):** in-flight records of 16 B (flags packed), the arena laid out with
  wrapping sums and power-of-two masks, buffers held as base pointers with their sizes from the
  capacities (no optional-base tests at every slice), `queueSmall` writing PINGREQ/PUBACK/PUBREC/PUBCOMP
  itself (the encoders' generic ack/empty paths drop out), one out-of-line `wait`/`milliseconds(from:until:)`
  /`compactTransmit`, and `publish(payload:)`/`nextEvent(now:)` kept out of line so the session is not
  inlined into the application: 11.8 -> 10.5 KB.
- **oneM2M client and C API:** a request's `pc` written straight into the writer (no save/watch/restore
  per typed request), one topic/filter builder, templates for `srv` and the C API's contents (one `fill`
  each), the C API's primitive and transport passed by address instead of as enums (whose payloads were
  copied out and stored back around every call), `ReleaseVersion(text:)` and `OneM2MTopic.parse` without
  table switches, timestamps parsed as two digit runs.
- **JSON:** a literal's single scalar is escaped without a buffer round trip; `writeEscaped` picks the
  escape from `escapeWidth` and a letter table.
- Together (session 4): MQTT layers 11.8 -> 10.5 KB; core in the Swift AE 42.6 -> 38.6 KB; core in the
  C daemon 42.2 -> 37.7 KB, while the JSON decoder became 24 % faster (instructions: 7,949 -> 6,046) for about 0.1 KB.
- **Session 5, no 64-bit shifts by a variable amount.** The JSON validator's and writer's container
  stacks were `UInt64` bit sets indexed by `1 << (depth - 1)`: on armv7 each access was an `__ashldi3` or
  `__lshrdi3` call with register-pair code around it, at every key, member and close. They are bit stacks
  now, pushed and popped by one-bit shifts, the innermost container in the lowest bit: -336 B (reader)
  and -748 B (writer) of the Swift AE's core; host decode and encode also got a little faster. The table
  of libgcc calls above keeps this class of cost visible.
- **Session 5, more single copies in Embedded builds:** `checkUTF8` (inlined into `isValidUTF8`, the
  validator's `validateSpecial` and the writer's `escapedLength`: -482 B), the writer's `measure`, `put`
  and placeholder scan (`fill` had inlined all three: -244 B), `present`, `stringAt`, `kindOf`,
  `ByteString.copy(into:)`, `decimalDigitCount`; member names read at one place in the validator (a
  labelled block it breaks out of), which also saves 250 instructions per decode on hosts.
- **Session 5, the request's fixed parameters one member at a time in Embedded builds.** Hosts write
  `op`, `to`, `fr`, `rqi`, `rvi` and `ty` as one measured run in one reservation (speed, about 0.8 KB
  more); Embedded builds write the same bytes with `member(name:)` calls: -614 B in the Swift AE's core,
  -630 B in the C daemon's. The Embedded runner checks both shapes byte for byte under qemu.
- **Session 5, compact paths where hosts keep fast ones:** in Embedded builds `JSONValue.integer()`
  parses every number with `parseInteger` (-164 B), `member(named:)` steps over every value with
  `skipValue`, and the validator leaves every number to `validateNumber`; one `escapedUnit` for both
  halves of a surrogate pair; `op`/`ty`/`rcn`/`rsc` read by one `codeParameter`. The Embedded runner
  checks these paths under qemu (integers at the 64-bit limits, member lookup past every kind of value,
  every one-byte change of two ACME primitives). JSON work together: 38,550 -> 36,258 B of the Swift AE's
  core and 37,688 -> 35,634 B of the C daemon's before the wrapping round below was merged.
- **Session 5, wrapping where bounded and plain pointers:** the clients' deadlines through one non-generic
  `millisecondsLeft` and `requestDeadline` (the request timeout bounded to 2^40 ms, so a huge one no longer
  traps); `PublishStaging`, the C API's arena regions and `OneM2MClient`'s scratch held as plain pointers
  (no optional-base tests or slice checks); the session's table loops over `Slots` (no negative-count trap
  per loop); `JSONWriter` offsets inside reserved room wrapping (`reserve`'s test rewritten so it cannot
  overflow; sums of caller-supplied lengths stay checked), and `writeParameters`'s fixed lengths likewise;
  the answer, `ot`, `rqet` and `rr` written as key + value without the atomic forms' writer save/restore;
  topics and the C API's client id built in one allocation of their final size; the pending table
  cleared by one zero fill; `daysFromCivil`'s 64-bit sum wrapping. MQTT layers 10,526 -> 10,218 B; about
  -1.40 KB of the Swift AE's core and -1.23 KB of the C daemon's (38,550 -> 34,978 and 37,688 -> 34,610 B
  together with the session's JSON work: container bits as shift-by-one stacks, one copy of the writer's
  `measure`/`put`); host encode 2,244 -> 2,121 instructions from the writer's wrapping offsets.

Tried and not kept (each measured with a symbol diff): a helper taking a closure shared by two call
sites (the closure was specialised per site, so the helper was duplicated and grew); incremental
store head/tail (PUBACKs free records out of order); a byte-oriented `rqi` matcher (-440 instructions
per response on the host, +126 B on armv7). Session 5: wrapping arithmetic in `daysFromCivil`'s 32-bit
steps, `ByteReader` and `validateMQTTString` (+20 to +56 B each: the no-overflow facts shape the constant
divisions and the inlining); `withUTF8` kept to one caller by routing `writeString` through `withPath`
(+110 B); `TCPTransport.init` out of line (+136 B in the AE: code moved from the app into the core);
`nextBackoff` without its overflow checks (+34 B); `consume` on forwarded configurations (no change: the
caller-side copy of `SessionConfiguration` / `OneM2MConfiguration`, 128 / 220 B, stays); a byte loop for
`fill`'s placeholder scan in Embedded builds (+132 B); `mqttClientID` in one allocation (+48 B of core,
inlined into `OneM2MClient.init`, though the stdlib's `Array.append` dropped out). Session 6: the C API
archive as one native object from a whole-library LTO link (`ld.lld -r`): only -508 B of the C daemon's
core then, because a relocatable link keeps every symbol global, so nothing is internalised or dropped
(adopted in session 10, when it gave -708 B: 32,608 -> 31,900 B); lld's `--lto-O1` (larger than the default `--lto-O2`, which equals `--lto-O3` here). Session 7: the C
API's Swift modules compiled as one module (an amalgamation, so the SIL optimiser sees them whole):
the C daemon's text 451,584 -> 451,592 B, no gain; the whole-program gain comes from LLVM
internalising symbols, which a relocatable link cannot do (the library has done it since 2026-11-23,
with an LTO link exporting only the C API, above).

Not done:

1. **Optional features behind a package trait** (e.g. `MinimalMQTT`): the replay store of payload copies,
   inbound QoS 2, duplicate digests, oversize draining and the reconnect back-off are what coreMQTT leaves
   to the application; compiled out they would bring the layers near coreMQTT's feature set and size.
2. **oneM2M layer:** the validating JSON reader, `PointOfAccess.parse` and timestamps are the large
   items above; `awaitResponse` carries the whole client loop, inlined once per program.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["report", "check"])
    ap.add_argument("--out", default=".build-cross")
    ap.add_argument("--targets", default="host aarch64 armv7")
    ap.add_argument("--budget", default="Toolchains/size-budget.txt")
    ap.add_argument("--markdown")
    ap.add_argument("--invoked-as", default="make size")
    a = ap.parse_args()
    targets = a.targets.split()
    result = measure(a.out, targets)
    if a.command == "report":
        md, failures = markdown(result, a.out, targets, a.budget, a.invoked_as)
        if a.markdown:
            with open(a.markdown, "w") as f:
                f.write(md)
            print(f"size: wrote {a.markdown}")
        else:
            print(md)
    lines, failures = check(result, a.budget, strict=os.environ.get("SIZE_STRICT") == "1")
    for line in lines:
        print("size: " + line)
    for t in targets:
        for binary, _, _ in BINARIES:
            _, _, uni, fnd = result[t][binary]
            if uni or fnd:
                print(f"size: {t} {binary} links Unicode tables/Foundation: {uni + fnd}")
                failures.append("unicode")
            strings = result[t][binary][0].string_syms
            if strings:
                print(f"size: {t} {binary} links the stdlib's String code ({len(strings)} symbols, e.g. {strings[:3]}); "
                      "use the byte forms of the API (docs/onem2m.md)")
                failures.append("string")
    if failures:
        print("size: over budget: " + ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
