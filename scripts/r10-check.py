#!/usr/bin/env python3
"""Lists armv7 Thumb-2 functions that return with r10 changed without saving it, and the call
sites that read r10 after calling one of them (docs/known-issues.md).

r10 is callee-saved in the AAPCS, and Swift passes `self` in it (swiftself), so a caller may
keep `self` there across a call. LLVM's ARM load/store optimiser at -Osize turns a function's
last loads from `self` into `ldm.w r10!, {...}` (base writeback) without saving r10: the caller
then reads `self` 4 bytes per loaded word too far. A heuristic over `llvm-objdump -d` output
(linear, not path-sensitive: a listed read may sit on a path the clobber never reaches).

Usage: scripts/r10-check.py [--strict] BINARY... (objdump: $OBJDUMP, else llvm-objdump next to swiftc)
Exit status 1 if any read after a clobber is found; with --strict (scripts/cross.sh, on every
armv7 build: the armv7 toolset turns the pass off, so there must be none), if any function
returns with r10 changed at all.
"""
import os, re, shutil, subprocess, sys

def objdump_path():
    if os.environ.get("OBJDUMP"):
        return os.environ["OBJDUMP"]
    swiftc = shutil.which("swiftc")
    if swiftc:
        p = os.path.join(os.path.dirname(os.path.realpath(swiftc)), "llvm-objdump")
        if os.path.exists(p):
            return p
    return "llvm-objdump"

R10 = r"\b(r10|sl)\b"

def parse(binary):
    text = subprocess.run([objdump_path(), "-d", "--no-show-raw-insn", binary],
                          capture_output=True, text=True, check=True).stdout
    funcs, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if m:
            cur = m.group(2)
            funcs[cur] = []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if cur and m:
            funcs[cur].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return funcs

def saves_r10(ins):
    return any(op.startswith(("push", "stmdb")) and re.search(R10, a) for _, op, a in ins[:6])

def writes_r10(op, a):
    if re.search(r"\b(r10|sl)!", a) and "sp!" not in a:
        return True  # base writeback
    if op.startswith(("ldm", "stm", "vldm", "vstm", "push", "pop", "str", "cmp", "cmn", "tst", "teq", "b")):
        return False
    return re.fullmatch(R10, a.split(",")[0].strip()) is not None

def callee(a):
    m = re.search(r"<(.*?)(\+0x[0-9a-f]+)?>", a)
    return m.group(1) if m else None

def check(binary):
    funcs = parse(binary)
    bad = {f for f, ins in funcs.items()
           if f != "_start" and not saves_r10(ins) and any(writes_r10(op, a) for _, op, a in ins)}
    changed = True
    while changed:  # calling a clobberer without saving r10 clobbers it for one's own callers
        changed = False
        for f, ins in funcs.items():
            if f in bad or saves_r10(ins):
                continue
            if any(op in ("bl", "b", "b.w") and callee(a) in bad for _, op, a in ins):
                bad.add(f)
                changed = True
    reads = []
    for f, ins in funcs.items():
        for i, (addr, op, a) in enumerate(ins):
            if op != "bl" or callee(a) not in bad:
                continue
            for addr2, op2, a2 in ins[i + 1:i + 60]:
                if re.search(R10, a2) and not op2.startswith("pop") and not (
                        writes_r10(op2, a2) and not re.search(R10, ",".join(a2.split(",")[1:]))):
                    reads.append(f"{f} calls {callee(a)} at {addr:#x}, then {addr2:#x}: {op2} {a2}")
                    break
                if writes_r10(op2, a2) or op2.startswith("pop") or op2 in ("b", "b.w", "bx"):
                    break
    print(f"{binary}:")
    for f in sorted(bad):
        print(f"  returns with r10 changed: {f}")
    for r in reads:
        print(f"  READ AFTER CLOBBER: {r}")
    return not reads and not (STRICT and bad)

STRICT = False

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--strict"]:
        STRICT = True
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    ok = all([check(b) for b in args])
    sys.exit(0 if ok else 1)
