#!/usr/bin/env python3
"""Turns the raw results of scripts/bench.sh into docs/performance.md (printed on stdout).

usage: bench/report.py RAWDIR "COMMAND"
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys

raw, command = sys.argv[1], sys.argv[2]


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def med(xs):
    return statistics.median(xs) if xs else None


machine = read_kv(os.path.join(raw, "machine.txt"))
runs = read_jsonl(os.path.join(raw, "runs.jsonl"))
steady = read_jsonl(os.path.join(raw, "steady.jsonl"))
static = json.load(open(os.path.join(raw, "staticram.json")))
sensor = json.load(open(os.path.join(raw, "sensor.json")))
resp_stats = open(os.path.join(raw, "responder.stats")).read().split()
resp_messages, resp_user, resp_sys = int(resp_stats[0]), int(resp_stats[1]), int(resp_stats[2])
resp_unanswered = int(resp_stats[3]) if len(resp_stats) > 3 else 0
short = machine.get("short") == "1"
reps = int(machine["reps"])

# ---------------------------------------------------------------------------------------------
# 1. Throughput
by = {}
for r in runs:
    by.setdefault((r["side"], r["w"]), []).append(r)


def rates(side, w):
    return [r["result"]["requestsPerSecond"] for r in by.get((side, w), [])]


def per_request_us(side, w, key):
    out = []
    for r in by.get((side, w), []):
        n = r["result"]["requests"]
        if key == "client":
            out.append((r["clientUserUs"] + r["clientSysUs"]) / n)
        elif key == "broker":
            out.append(r["brokerNs"] / 1000 / n)
        elif key == "responder":
            out.append(r["responderNs"] / 1000 / n)
    return out


def paired_ratios(w):
    ours = {r["label"]: r["result"]["requestsPerSecond"] for r in by.get(("ours", w), [])}
    base = {r["label"]: r["result"]["requestsPerSecond"] for r in by.get(("baseline", w), [])}
    return [ours[k] / base[k] for k in sorted(ours) if k in base and base[k] > 0]


throughput = {}
for w in (1, 16):
    o, b = med(rates("ours", w)), med(rates("baseline", w))
    throughput[w] = {
        "ours": o,
        "base": b,
        "ratio": (o / b) if o and b else None,
        "paired": paired_ratios(w),
        "ours_p50": med([r["result"]["latencyP50Ms"] for r in by.get(("ours", w), [])]),
        "ours_p99": med([r["result"]["latencyP99Ms"] for r in by.get(("ours", w), [])]),
        "base_p50": med([r["result"]["latencyP50Ms"] for r in by.get(("baseline", w), [])]),
        "base_p99": med([r["result"]["latencyP99Ms"] for r in by.get(("baseline", w), [])]),
        "n": by[("ours", w)][0]["result"]["requests"] if ("ours", w) in by else 0,
    }

# CPU shares: the responder against everything that ran in the measured runs.
total_client_us = sum(r["clientUserUs"] + r["clientSysUs"] for r in runs)
total_broker_us = sum(r["brokerNs"] for r in runs) / 1000
total_resp_us = sum(r["responderNs"] for r in runs) / 1000
total_requests = sum(r["result"]["requests"] for r in runs)
resp_share = total_resp_us / (total_client_us + total_broker_us + total_resp_us)
resp_vs_broker = total_resp_us / total_broker_us if total_broker_us else 0
resp_us_per_msg = (resp_user + resp_sys) / resp_messages if resp_messages else 0

# ---------------------------------------------------------------------------------------------
# 2. JSON (package-benchmark exports: per pair, p50)
def read_json_run(directory):
    found = {}
    for path in glob.glob(os.path.join(directory, "*.histogram.percentiles.tsv")):
        m = re.match(r".*\.JSONBench\.(.+)\.(wallClock|mallocCountTotal)\.histogram\.percentiles\.tsv$", path)
        if not m:
            continue
        rows = {}
        with open(path) as f:
            next(f)
            for line in f:
                p, v = line.split("\t")
                rows[int(p)] = float(v)
        found[(m.group(1), m.group(2))] = rows
    return found


# Run 1 has every JSON benchmark; runs 2.. repeat the timed pairs in alternating order.
json_runs = [read_json_run(d) for d in sorted(glob.glob(os.path.join(raw, "json", "rep*")),
                                               key=lambda d: int(re.search(r"rep(\d+)$", d).group(1)))]
json_p = json_runs[0] if json_runs else {}


def read_clock(directory, which):
    """(GHz, independent adds per cycle) from bench/clockprobe.c, or None."""
    try:
        with open(os.path.join(directory, f"clock.{which}")) as f:
            ghz, width = f.read().split()
            return float(ghz), float(width)
    except (OSError, ValueError):
        return None


# The core's speed (bench/clockprobe.c) before and after each JSON run.
json_clocks = [(read_clock(d, "before"), read_clock(d, "after"))
               for d in sorted(glob.glob(os.path.join(raw, "json", "rep*")), key=lambda d: int(re.search(r"rep(\d+)$", d).group(1)))]


def jp(name, metric, pct=50):
    rows = json_p.get((name, metric))
    return rows.get(pct) if rows else None


ways = [("ours", "ours: JSONWriter + ResponsePrimitiveView"), ("codable", "Foundation JSONEncoder/JSONDecoder (Codable structs)"),
        ("jsonserialization", "Foundation JSONSerialization ([String: Any])")]
# Per pair: the median over the runs of each run's p50, and the median of the per-run ratios
# (the two sides of a ratio ran within seconds of each other).
pair_runs = {k: [r[(f"pair.{k}", "wallClock")][50] for r in json_runs if (f"pair.{k}", "wallClock") in r] for k, _ in ways}
pair_ns = {k: (med(v) if v else None) for k, v in pair_runs.items()}
pair_ratio_runs = {k: [r[(f"pair.{k}", "wallClock")][50] / r[("pair.ours", "wallClock")][50] for r in json_runs
                       if (f"pair.{k}", "wallClock") in r and ("pair.ours", "wallClock") in r] for k, _ in ways}
pair_ratio = {k: (med(v) if v else None) for k, v in pair_ratio_runs.items()}
pair_allocs = {k: jp(f"allocs.{k}", "mallocCountTotal") for k, _ in ways}
pair_allocs_max = {k: jp(f"allocs.{k}", "mallocCountTotal", 100) for k, _ in ways}

# Instruction counts per operation (callgrind, difference between two loop lengths).
callgrind = {}
loop_a, loop_b = None, None
for op in ("encode", "decode", "codable-pair", "embedded-pair"):
    logs = sorted(glob.glob(os.path.join(raw, f"callgrind.{op}.*.log")))
    counts = {}
    for lg in logs:
        n = int(re.search(rf"callgrind\.{op}\.(\d+)\.log$", lg).group(1))
        txt = open(lg).read()
        m = re.search(r"Collected : (\d+)", txt)
        if m:
            counts[n] = int(m.group(1))
    if len(counts) == 2:
        (na, ca), (nb, cb) = sorted(counts.items())
        callgrind[op] = {"per_op": (cb - ca) / (nb - na), "top": []}
        ann = os.path.join(raw, f"callgrind.{op}.txt")
        if os.path.exists(ann):
            agg = {}
            in_table = False
            for line in open(ann):
                if "file:function" in line:
                    in_table = True
                    continue
                if not in_table:
                    continue
                if line.startswith("----") and agg:
                    break  # end of the function table (source annotation follows)
                m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*?):(\S+)", line)
                # Only our code (the SDK and compiler-generated thunks), not ld.so or libc.
                if not m or "=>" in line or not ("Sources/" in m.group(3) or "compiler-generated" in m.group(3)):
                    continue
                sym = m.group(4)
                agg[sym] = agg.get(sym, 0) + float(m.group(2))
            top = sorted(agg.items(), key=lambda kv: -kv[1])[:8]
            names = [s for s, _ in top]
            try:
                dm = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True, text=True, timeout=60).stdout.splitlines()
            except Exception:
                dm = names
            if len(dm) != len(names):
                dm = names
            merged = {}
            for (s, pct), d in zip(top, dm):
                d = re.sub(r"^(static |specialized )+", "", d)
                d = d.split(" in ")[0] if " in " in d else d
                d = re.sub(r" \(.*$", "", d) if len(d) > 70 else d
                merged[d] = merged.get(d, 0) + pct
            callgrind[op]["top"] = sorted(merged.items(), key=lambda kv: -kv[1])

# Instructions per request in each AE (callgrind, two runs, per-function difference / dN).
def parse_annotate(path):
    out = {}
    if not os.path.exists(path):
        return out
    in_table = False
    for line in open(path):
        if "file:function" in line:
            in_table = True
            continue
        if not in_table:
            continue
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?):(.+?)(?:\s+\[(.*)\])?\s*$", line)
        if not m:
            continue
        key = (m.group(3), os.path.basename(m.group(4) or ""))
        out[key] = out.get(key, 0) + int(m.group(1).replace(",", ""))
    return out


def collected(path):
    if not os.path.exists(path):
        return None
    m = re.search(r"Collected : (\d+)", open(path).read())
    return int(m.group(1)) if m else None


def category(sym, obj):
    m = re.match(r"^\$s(\d+)(\w+)", sym)
    if m and not sym.startswith("$sS"):
        return m.group(2)[: int(m.group(1))]
    if sym.startswith("$s") or "swift" in obj.lower():
        return "Swift runtime + stdlib"
    if obj.startswith("libc.so"):
        return "libc"
    if obj.startswith("ld-linux"):
        return "dynamic linker"
    if obj.startswith("libmosquitto"):
        return "libmosquitto"
    if obj in ("baseline",):
        return "baseline (its own code)"
    if obj.startswith("onem2m"):
        return "onem2m binary (C shims)"
    return obj or "other"


ae_profile = {}
ca_n, cb_n = int(machine.get("cgr_a", 0) or 0), int(machine.get("cgr_b", 0) or 0)
for side in ("ours", "baseline"):
    ta = collected(os.path.join(raw, f"callgrind.{side}.{ca_n}.log"))
    tb = collected(os.path.join(raw, f"callgrind.{side}.{cb_n}.log"))
    if ta is None or tb is None or cb_n <= ca_n:
        continue
    fa = parse_annotate(os.path.join(raw, f"callgrind.{side}.{ca_n}.txt"))
    fb = parse_annotate(os.path.join(raw, f"callgrind.{side}.{cb_n}.txt"))
    dn = cb_n - ca_n
    per_fn = {k: (fb.get(k, 0) - fa.get(k, 0)) / dn for k in set(fa) | set(fb)}
    cats = {}
    for (sym, obj), v in per_fn.items():
        c = category(sym, obj)
        cats[c] = cats.get(c, 0) + v
    top = sorted(((k, v) for k, v in per_fn.items() if v > 0), key=lambda kv: -kv[1])[:8]
    names = [k[0] for k, _ in top]
    try:
        dm = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True, text=True, timeout=60).stdout.splitlines()
    except Exception:
        dm = names
    if len(dm) != len(names):
        dm = names
    merged = {}
    for (k, v), d in zip(top, dm):
        d = re.sub(r"^(static |specialized )+", "", d)
        d = d.split(" in ")[0] if " in " in d and not d.startswith("(") else d
        d = re.sub(r"\(swift::.*$", "", d).strip()
        merged[d] = merged.get(d, 0) + v
    pretty = sorted(merged.items(), key=lambda kv: -kv[1])
    ae_profile[side] = {"per_request": (tb - ta) / dn, "categories": cats, "top": pretty}

# ---------------------------------------------------------------------------------------------
# 3. Steady state per request (two runs, difference / dN)
steady_per = {}
for side in ("ours", "baseline"):
    rows = sorted((r for r in steady if r["side"] == side), key=lambda r: r["n"])
    if len(rows) < 2:
        continue
    a, b = rows[0], rows[-1]
    dn = b["n"] - a["n"]
    steady_per[side] = {
        "na": a["n"], "nb": b["n"], "a": a["allocs"], "b": b["allocs"],
        "per": (b["allocs"] - a["allocs"]) / dn,
        "bytes_per": (b["bytes"] - a["bytes"]) / dn,
        "in_loop": b["result"].get("allocsInLoop"),
        "user": (b["clientUserUs"] - a["clientUserUs"]) / dn,
        "sys": (b["clientSysUs"] - a["clientSysUs"]) / dn,
        "broker": (b["brokerNs"] - a["brokerNs"]) / 1000 / dn,
        "responder": (b["responderNs"] - a["responderNs"]) / 1000 / dn,
    }

# System calls per request (strace -c, two runs).
def strace_counts(path):
    calls = {}
    if not os.path.exists(path):
        return None
    for line in open(path):
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            try:
                calls[parts[-1]] = int(parts[3])
            except ValueError:
                pass
    return calls


syscalls = {}
la, lb = int(machine.get("loop_a", 0) or 0), int(machine.get("loop_b", 0) or 0)
for side in ("ours", "baseline"):
    ca = strace_counts(os.path.join(raw, f"strace.{side}.{la}"))
    cb = strace_counts(os.path.join(raw, f"strace.{side}.{lb}"))
    if ca is None or cb is None or lb <= la:
        continue
    per = {k: (cb.get(k, 0) - ca.get(k, 0)) / (lb - la) for k in set(ca) | set(cb)}
    per = {k: v for k, v in per.items() if v >= 0.05}
    syscalls[side] = per

# ---------------------------------------------------------------------------------------------
L = []
w = L.append
w("# Performance")
w("")
w(f"Written by `{command}` ([scripts/bench.sh](../scripts/bench.sh)); do not edit by hand. "
  "Every figure below comes from the run described in the first table.")
if short:
    w("")
    w("**Smoke run (BENCH_SHORT=1): few requests, one repetition. The figures only show that the "
      "harness works; they are not measurements.**")
w("")
w("| | |")
w("|---|---|")
w(f"| date (UTC) | {machine['date']} |")
w(f"| machine | {machine['cpu']}, {machine['cores']} cores, {machine['kernel']} |")
w(f"| toolchain | {machine['swift']}; mosquitto {machine['mosquitto']}, libmosquitto {machine['libmosquitto']} |")
w(f"| command | `{command}` ({reps} interleaved run(s) per comparison; W=1: {throughput[1]['n']} requests, W=16: {throughput[16]['n']} requests per run) |")
w(f"| load average (1/5/15 min) | {machine['loadavg_start']} at the start, {machine.get('loadavg_end', '?')} at the end |")
w(f"| runtime | {machine.get('runtime_seconds', '?')} s in all, of which {machine['build_seconds']} s building |")
w("")
w("The machine is shared: other processes (builds, tests) may run at the same time, which the load "
  "average shows. The two sides of each comparison run alternately, so both see the same conditions; "
  "medians over the runs are reported.")
w("")

w("## Summary")
w("")
w("| comparison | ours | reference | ours / reference | target |")
w("|---|---:|---:|---:|---|")
for ww in (1, 16):
    t = throughput[ww]
    w(f"| AE throughput, W={ww} (req/s, median) | {fmt(t['ours'])} | {fmt(t['base'])} (libmosquitto C AE) | "
      f"**{fmt(t['ratio'], 2)}x** | >= 1.0x |")
if pair_ns["ours"] and pair_ns["codable"]:
    w(f"| JSON encode+decode pair (ns, median of {len(pair_runs['ours'])} runs' p50) | {fmt(pair_ns['ours'])} | {fmt(pair_ns['codable'])} (Codable) | "
      f"**{fmt(pair_ratio['codable'], 1)}x faster** | <= 600 ns, >= 20x |")
    w(f"| JSON pair vs JSONSerialization (ns, same runs) | {fmt(pair_ns['ours'])} | {fmt(pair_ns['jsonserialization'])} | "
      f"**{fmt(pair_ratio['jsonserialization'], 1)}x faster** | |")
    if "encode" in callgrind and "decode" in callgrind and "codable-pair" in callgrind:
        ip = callgrind["encode"]["per_op"] + callgrind["decode"]["per_op"]
        cp = callgrind["codable-pair"]["per_op"]
        w(f"| JSON pair, instructions (callgrind, load-independent) | {fmt(ip)} | {fmt(cp)} (Codable) | **{cp / ip:.1f}x fewer** | |")
    w(f"| heap allocations per JSON pair | {fmt(pair_allocs['ours'])} | {fmt(pair_allocs['codable'])} (Codable) | | 0 |")
if "ours" in steady_per and "baseline" in steady_per:
    w(f"| heap allocations per request, steady state | {fmt(steady_per['ours']['per'], 3)} | "
      f"{fmt(steady_per['baseline']['per'], 2)} (libmosquitto) | | 0 |")
    o, b = steady_per["ours"], steady_per["baseline"]
    w(f"| AE CPU per request, steady state, W=16 (µs) | {fmt(o['user'] + o['sys'], 1)} | {fmt(b['user'] + b['sys'], 1)} (libmosquitto) | "
      f"{fmt((o['user'] + o['sys']) / (b['user'] + b['sys']), 2)}x (lower is better) | |")
w(f"| SensorDaemon resident memory (VmHWM) | {fmt(sensor['vmHWMKb'])} KiB | | | |")
w(f"| static RAM of one client, default capacities | {fmt(static['totalBytes'])} B | | | |")
w("")

# -- 1
w("## 1. AE throughput: `onem2m bench` vs a libmosquitto C AE")
w("")
w("Both AEs create contentInstances in `cse-in/bench/data` with the same primitive (same JSON shape and "
  "size: `{\"op\":1,\"to\":...,\"fr\":...,\"rqi\":\"<8 hex>-<n>\",\"rvi\":\"3\",\"ty\":4,\"pc\":{\"m2m:cin\":{\"cnf\":\"text/plain:0\",\"con\":\"21.5\"}}}`), "
  "QoS 1, client id `A::<origin>`, Clean Session 0, TCP_NODELAY, W requests outstanding, matched by `rqi`. "
  "They talk to the same mosquitto (`set_tcp_nodelay true`, 127.0.0.1) and the same responder, a C "
  "libmosquitto client ([bench/responder.c](../bench/responder.c)) that stands in for ACME: it subscribes to "
  "`/oneM2M/req/+/id-in/#` (QoS 0, as ACME does) and answers every request on `/oneM2M/resp/<originator>/id-in/json` "
  "(QoS 1) with ACME's 2001 body for a contentInstance, carrying the request's `rqi`. "
  "The baseline ([bench/baseline.c](../bench/baseline.c)) builds the request with `snprintf` and reads the "
  "response with a minimal scan for `rsc` and `rqi`; ours validates the whole response JSON, so the "
  "comparison favours the baseline. Throughput is requests / time from the first publish to the last response "
  "(each tool's own clock; connecting is not included).")
w("")
w(f"| W | ours req/s | baseline req/s | ours / baseline | per-run ratios | ours latency p50 / p99 (ms) | baseline p50 / p99 (ms) |")
w("|---:|---:|---:|---:|---|---|---|")
for ww in (1, 16):
    t = throughput[ww]
    pr = ", ".join(f"{x:.2f}" for x in t["paired"])
    w(f"| {ww} | {fmt(t['ours'])} | {fmt(t['base'])} | **{fmt(t['ratio'], 2)}x** | {pr} | "
      f"{fmt(t['ours_p50'], 3)} / {fmt(t['ours_p99'], 3)} | {fmt(t['base_p50'], 3)} / {fmt(t['base_p99'], 3)} |")
w("")
w("All runs (req/s):")
w("")
w("| W | side | " + " | ".join(f"run {i}" for i in range(1, reps + 1)) + " |")
w("|---:|---|" + "---:|" * reps)
for ww in (1, 16):
    for side in ("ours", "baseline"):
        w(f"| {ww} | {side} | " + " | ".join(fmt(x) for x in rates(side, ww)) + " |")
w("")
w("CPU time per request (median over the runs; client = user + system time of the AE process from "
  "`wait4`, including its start-up and connect; broker and responder = their on-CPU time from "
  "`/proc/<pid>/schedstat` over the same run):")
w("")
w("| W | side | client µs/req | broker µs/req | responder µs/req | client max RSS (KiB) |")
w("|---:|---|---:|---:|---:|---:|")
for ww in (1, 16):
    for side in ("ours", "baseline"):
        rss = med([r["clientMaxRssKb"] for r in by.get((side, ww), [])])
        w(f"| {ww} | {side} | {fmt(med(per_request_us(side, ww, 'client')), 1)} | {fmt(med(per_request_us(side, ww, 'broker')), 1)} | "
          f"{fmt(med(per_request_us(side, ww, 'responder')), 1)} | {fmt(rss)} |")
w("")
w("`onem2m bench` sizes its MQTT buffers for a command-line tool (256 KiB transmit, 1 MiB receive, 512 KiB "
  "store), which is most of its RSS difference; the SDK's defaults are in section 4.")
w("")
w("**Is the responder cheap?** Over the measured runs the responder used "
  f"{fmt(total_resp_us / total_requests, 1)} µs of CPU per request, {resp_share * 100:.1f}% of all CPU time spent by "
  f"client + broker + responder, and {resp_vs_broker * 100:.0f}% of what mosquitto itself used. By its own "
  f"`getrusage` over its whole life it answered {fmt(resp_messages)} requests ({resp_unanswered} unanswered) with "
  f"{fmt(resp_user / 1000)} ms user + {fmt(resp_sys / 1000)} ms system time: {resp_user / max(resp_messages, 1):.1f} µs user "
  f"(the rqi scan, the copy of a fixed body, libmosquitto's packet handling) and {resp_sys / max(resp_messages, 1):.1f} µs system "
  "per message (libmosquitto's socket reads, a few per packet, and the writes of the answer). It is the same responder "
  "for both sides, so it shifts both by the same amount; at W=16, where the cores are saturated, its share of the CPU "
  "pulls the ratio towards 1.0x rather than away from it.")
w("")

# -- 2
w("## 2. JSON: encode a request, decode a 2001 response")
w("")
w("One pair = encode the create-contentInstance request primitive above and decode ACME's 2001 response to it "
  "(the real ACME body, 330 bytes with ACME's `\", \"` separators, a full `m2m:cin` resource in `pc`); every decoder "
  "checks `rsc` = 2001 and `rqi` and reads the new resource's `ri`. Foundation's encoder/decoder objects are "
  "created once and reused. [Benchmarks/](../Benchmarks) (ordo-one package-benchmark 1.38, metrics wallClock and "
  "mallocCountTotal through its malloc interposer): time per pair from 1000-pair iterations (p50 over the "
  "iterations); allocations per pair exact from one-pair iterations.")
w("")
w(f"The three timed pairs ran {len(json_runs)} times (in each run Codable's and JSONSerialization's, then ours "
  "on its own a few seconds later, between two readings of the core's speed), so that one slow moment of this shared "
  "machine does not decide a ratio. The table gives the median over the runs of each run's p50, and the median of the per-run ratios.")
w("")
w("| way | ns per pair (median p50) | p90 (run 1) | heap allocations per pair (p50 / max) | ours is faster by (median of per-run ratios) |")
w("|---|---:|---:|---:|---:|")
for k, label in ways:
    ns = pair_ns[k]
    faster = "" if k == "ours" or not pair_ratio[k] else f"{pair_ratio[k]:.1f}x"
    w(f"| {label} | {fmt(ns)} | {fmt(jp(f'pair.{k}', 'wallClock', 90))} | {fmt(pair_allocs[k])} / {fmt(pair_allocs_max[k])} | {faster} |")
w("")
w("Each run's p50 (ns per pair):")
w("")
w("| way | " + " | ".join(f"run {i}" for i in range(1, len(json_runs) + 1)) + " |")
w("|---|" + "---:|" * len(json_runs))
for k, _ in ways:
    w(f"| {k} | " + " | ".join(fmt(x) for x in pair_runs[k]) + " |")
# The core's speed around each run: its clock, and how much of its width this thread got (four
# independent add chains per cycle: about 3.5 alone on the core, about 2 when another hardware
# thread on it is busy). Cycles per pair = the run's p50 times the mean clock.
pair_cycles, unshared_ns, shared_ns = [], [], []
UNSHARED = 3.0  # adds per cycle, before and after the run
if json_clocks and all(a and b for a, b in json_clocks) and len(json_clocks) == len(pair_runs["ours"]):
    w("| clock before / after (GHz) | " + " | ".join(f"{a[0]:.2f} / {b[0]:.2f}" for a, b in json_clocks) + " |")
    w("| independent adds per cycle before / after | " + " | ".join(f"{a[1]:.2f} / {b[1]:.2f}" for a, b in json_clocks) + " |")
    pair_cycles = [ns * (a[0] + b[0]) / 2 for ns, (a, b) in zip(pair_runs["ours"], json_clocks)]
    w("| ours, cycles per pair (p50 x mean clock) | " + " | ".join(fmt(c) for c in pair_cycles) + " |")
    for ns, (a, b) in zip(pair_runs["ours"], json_clocks):
        (unshared_ns if min(a[1], b[1]) >= UNSHARED else shared_ns).append(ns)
w("")
if pair_cycles:
    w("The last rows come from [bench/clockprobe.c](../bench/clockprobe.c), run just before and after each run of our pair: the "
      "clock of a chain of dependent register adds, and how many adds of four independent chains the core completes per "
      "cycle for this thread. This is a shared machine: when another hardware thread on the same core is busy, the "
      f"second figure drops from its quiet value (about 3.5 on the Intel Xeon of earlier runs; "
      f"{max(max(a[1], b[1]) for a, b in json_clocks):.1f} at most in this run) to about 2 at the same clock, and the "
      "pair takes up to half as long again. The neighbour's load changes within seconds, so a reading "
      "taken before or after a run does not always describe the run itself.")
    w(f"Runs with at least {UNSHARED:.1f} adds per cycle both before and after: {len(unshared_ns)}"
      + (f", median p50 {fmt(med(unshared_ns))} ns per pair" if unshared_ns else "")
      + f"; the others: {len(shared_ns)}" + (f", median {fmt(med(shared_ns))} ns." if shared_ns else "."))
    w("")
w("| way | encode ns (p50) | decode ns (p50) | encode allocs | decode allocs |")
w("|---|---:|---:|---:|---:|")
for k, label in ways:
    w(f"| {k} | {fmt(jp(f'encode.{k}', 'wallClock'))} | {fmt(jp(f'decode.{k}', 'wallClock'))} | "
      f"{fmt(jp(f'encode.{k}', 'mallocCountTotal'))} | {fmt(jp(f'decode.{k}', 'mallocCountTotal'))} |")
w("")
if callgrind:
    w("Instructions per operation (callgrind, `Benchmarks/Sources/JSONLoop`, difference of two loop lengths, "
      "independent of machine load) and where they go (self cost):")
    w("")
    for op in ("encode", "decode"):
        if op in callgrind:
            c = callgrind[op]
            tops = "; ".join(f"`{d}` {p:.0f}%" for d, p in c["top"])
            w(f"- **{op}**: {fmt(c['per_op'])} instructions. {tops}")
    if "encode" in callgrind and "decode" in callgrind and "codable-pair" in callgrind:
        ours_pair = callgrind["encode"]["per_op"] + callgrind["decode"]["per_op"]
        cp = callgrind["codable-pair"]["per_op"]
        w(f"- **pair**: ours {fmt(ours_pair)} instructions against {fmt(cp)} for the Codable pair: "
          f"{cp / ours_pair:.1f}x fewer (a load-independent check of the timing ratio above).")
    if "embedded-pair" in callgrind:
        e = callgrind["embedded-pair"]
        tops = "; ".join(f"`{d}` {p:.0f}%" for d, p in e["top"][:5])
        rel = ""
        if "encode" in callgrind and "decode" in callgrind:
            host_pair = callgrind["encode"]["per_op"] + callgrind["decode"]["per_op"]
            rel = f", {e['per_op'] / host_pair:.1f}x the host build's {fmt(host_pair)}"
        w(f"- **pair, Embedded build**: {fmt(e['per_op'])} instructions{rel} "
          "([Tests/SizeProbes/JSONLoopEmbedded.swift](../Tests/SizeProbes/JSONLoopEmbedded.swift), built by "
          "`scripts/cross.sh` for the host in Embedded mode at -Osize, as for a board). Embedded builds scan JSON "
          "strings and compare names a byte at a time, for size (hosts use word and SSE2 scans), so this is the "
          f"figure to scale by a board's clock and IPC. {tops}")
    w("")

# -- 3
w("## 3. Per request in steady state: allocations, CPU, system calls")
w("")
w("Both AEs run the same way against the responder at W=16, twice with different N; (value(N2) - value(N1)) / (N2 - N1) "
  "is what one more request costs, with start-up, connect and shutdown cancelled out. Heap allocations come from the same "
  "LD_PRELOAD counter in both processes ([bench/mallocount.c](../bench/mallocount.c): malloc, calloc, realloc, "
  "posix_memalign, aligned_alloc, memalign, valloc); CPU from `wait4` (AE) and `/proc/<pid>/schedstat` (broker, responder).")
w("")
w("| side | allocations N1 / N2 | allocations per request | AE user µs | AE system µs | AE total µs | broker µs | responder µs |")
w("|---|---|---:|---:|---:|---:|---:|---:|")
for side in ("ours", "baseline"):
    a = steady_per.get(side)
    if a:
        w(f"| {side} | {fmt(a['a'])} (N={a['na']}) / {fmt(a['b'])} (N={a['nb']}) | **{fmt(a['per'], 3)}** | {fmt(a['user'], 1)} | "
          f"{fmt(a['sys'], 1)} | {fmt(a['user'] + a['sys'], 1)} | {fmt(a['broker'], 1)} | {fmt(a['responder'], 1)} |")
w("")
if steady_per.get("ours"):
    o = steady_per["ours"]
    note = (f"Ours: {o['b'] - o['a']} allocation(s) more for {o['nb'] - o['na']} more requests, i.e. none per request in steady state. "
            if o["b"] - o["a"] <= 2 else "")
    note += ("Both tools also allocate their latency array (8 B per request) once at the start, which shows in the bytes but "
             "not in the count.")
    w(note)
if steady_per.get("baseline", {}).get("in_loop") is not None:
    a = steady_per["baseline"]
    w(f"Cross-check: the baseline also reads the counter around its own request loop: {fmt(a['in_loop'])} allocations "
      f"for {a['nb']} requests ({a['in_loop'] / a['nb']:.2f} per request; libmosquitto allocates the packet, "
      "a message copy, topic and payload for every publish and every received message).")
w("")
if ae_profile:
    w(f"Instructions per request in each AE process (`valgrind --tool=callgrind`, W=16, N={ca_n} and N={cb_n}, difference; "
      "user space only, independent of machine load; ours profiled from a copy of `onem2m` without debug information, "
      "which valgrind 3.19 cannot read):")
    w("")
    w("| side | instructions per request | by module | top functions (instructions per request) |")
    w("|---|---:|---|---|")
    for side in ("ours", "baseline"):
        pr = ae_profile.get(side)
        if not pr:
            continue
        cats = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(pr["categories"].items(), key=lambda kv: -kv[1]) if v >= 100)
        tops = "; ".join(f"`{d}` {v:,.0f}" for d, v in pr["top"][:6])
        w(f"| {side} | {pr['per_request']:,.0f} | {cats} | {tops} |")
    w("")
if syscalls:
    w(f"System calls per request (`strace -f -c`, W=16, N={la} and N={lb}, difference):")
    w("")
    w("| side | total | by call |")
    w("|---|---:|---|")
    for side in ("ours", "baseline"):
        per = syscalls.get(side)
        if per:
            detail = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
            w(f"| {side} | {sum(per.values()):.2f} | {detail} |")
    w("")

# -- 4
w("## 4. Memory")
w("")
w(f"**SensorDaemon** (Examples/SensorDaemon, release build) registering with ACME through mosquitto, posting "
  f"{sensor['readings']} readings 0.2 s apart, receiving their notifications and deregistering; `/proc/<pid>/status` "
  f"sampled every 50 ms ({sensor['samples']} samples):")
w("")
w("| VmHWM (peak) | VmRSS (last sample) | RssAnon | RssFile (shared libraries, binary) |")
w("|---:|---:|---:|---:|")
w(f"| {fmt(sensor['vmHWMKb'])} KiB | {fmt(sensor['vmRSSKb'])} KiB | {fmt(sensor['rssAnonKb'])} KiB | {fmt(sensor['rssFileKb'])} KiB |")
w("")
w("**Static RAM of one client with default capacities** (`SessionCapacities()`, `OneM2MConfiguration` defaults), from the "
  "code's own numbers ([Benchmarks/Sources/StaticRAM](../Benchmarks/Sources/StaticRAM/main.swift)):")
w("")
w("| part | bytes |")
w("|---|---:|")
w(f"| MQTT session arena `SessionCapacities().arenaBytes` (transmit {static['transmitBytes']} + receive {static['receiveBytes']} + "
  f"replay store {static['storeBytes']} + tables for {static['inflight']} in flight, {static['inboundHistory']} inbound ids, "
  f"{static['pendingSubscriptions']} subscriptions) | {fmt(static['arenaBytes'])} |")
w(f"| pending-request table ({static['pendingRequests']} x 16 B) | {fmt(static['pendingBytes'])} |")
w(f"| scratch (response topics, rqi text) | {fmt(static['scratchBytes'])} |")
w(f"| the client value itself (`MemoryLayout<PosixOneM2MClient>.size`) | {fmt(static['clientStructBytes'])} |")
w(f"| **total** | **{fmt(static['totalBytes'])}** |")
if static.get("measuredHeapBytes", -1) >= 0:
    w(f"| measured: heap requested while making the client (LD_PRELOAD counter) | {fmt(static['measuredHeapBytes'])} in "
      f"{static['measuredHeapAllocations']} allocations |")
w("")
w("The measured heap includes, besides arena, table and scratch, the topic strings, configuration copies and "
  "Swift runtime metadata touched for the first time; none of it grows afterwards (section 3).")
w("")

# -- Reading
w("## Reading")
w("")
t1, t16 = throughput[1], throughput[16]
lines = []
if t1["ratio"] is not None and t16["ratio"] is not None:
    verdict = []
    for ww, t in ((1, t1), (16, t16)):
        v = f"{t['ratio']:.3f}x" if 0.97 <= t["ratio"] < 1.03 else f"{t['ratio']:.2f}x"
        v += f" at W={ww} ({'meets' if t['ratio'] >= 1.0 else 'misses'} the 1.0x target"
        if 0.97 <= t["ratio"] < 1.03:
            # Within the run-to-run spread: say so rather than claim a win or a loss.
            v += "; that is parity, well inside the run-to-run spread, not a measurable lead or lag"
        verdict.append(v + ")")
    lines.append("- **Throughput:** ours / baseline = " + " and ".join(verdict) + ". "
                 f"At W=1 each request waits for a full round trip AE -> broker -> responder -> broker -> AE (p50 "
                 f"{fmt(t1['ours_p50'], 3)} ms ours, {fmt(t1['base_p50'], 3)} ms baseline); at W=16 the three processes keep "
                 "both cores busy and the rate follows the CPU they need per request (below).")
    spread = [x for ww in (1, 16) for x in throughput[ww]["paired"]]
    if len(spread) >= 2:
        lines[-1] += (f" The per-run ratios range from {min(spread):.2f} to {max(spread):.2f}: on this shared machine "
                      "(see the load average) single runs vary a lot, so only the medians and the load-independent "
                      "counts below (instructions, system calls, allocations) should be compared.")
o, b = steady_per.get("ours"), steady_per.get("baseline")
if o and b:
    parts = {"our AE": o["user"] + o["sys"], "mosquitto": o["broker"], "the responder": o["responder"]}
    biggest = max(parts, key=parts.get)
    s = (f"- **Where the time goes (steady state, W=16, per request):** our AE {o['user'] + o['sys']:.1f} µs "
         f"({o['user']:.1f} user + {o['sys']:.1f} system) against the libmosquitto AE {b['user'] + b['sys']:.1f} µs "
         f"({b['user']:.1f} + {b['sys']:.1f}); mosquitto {o['broker']:.1f} µs, the responder {o['responder']:.1f} µs "
         f"(largest: {biggest}).")
    if syscalls.get("ours") and syscalls.get("baseline"):
        s += (f" Ours makes {sum(syscalls['ours'].values()):.1f} system calls per request against "
              f"{sum(syscalls['baseline'].values()):.1f} for libmosquitto, hence {'less' if o['sys'] < b['sys'] else 'more'} "
              "system time;")
    else:
        s += " Ours has"
    s += (f" {'more' if o['user'] > b['user'] else 'less'} user time ({o['user']:.1f} vs {b['user']:.1f} µs).")
    if ae_profile.get("ours") and ae_profile.get("baseline"):
        po, pb = ae_profile["ours"], ae_profile["baseline"]
        json_part = po["categories"].get("OneM2M", 0)
        s += (f" Counted in instructions, ours executes {po['per_request']:,.0f} per request in user space against "
              f"{pb['per_request']:,.0f} for the libmosquitto AE; {json_part:,.0f} of ours "
              f"({json_part / po['per_request'] * 100:.0f}%) are in the OneM2M module, i.e. writing the request and "
              "validating and reading the response JSON, which the baseline skips (it only scans for two keys).")
    elif pair_ns["ours"]:
        share = pair_ns["ours"] / 1000 / o["user"] if o["user"] > 0 else 0
        s += (f" Encoding the request and decoding the response take about {pair_ns['ours'] / 1000:.1f} µs of that user time "
              f"(section 2, about {share * 100:.0f}%).")
    lines.append(s)
if pair_ns["ours"]:
    s = f"- **JSON:** a pair costs {fmt(pair_ns['ours'])} ns"
    if pair_ratio["codable"]:
        s += f", {pair_ratio['codable']:.1f}x less than Codable"
    s += f", with {fmt(pair_allocs['ours'])} allocations"
    goals = ["meets the 600 ns target" if pair_ns["ours"] <= 600 else "misses the 600 ns target"]
    if pair_ns["codable"]:
        goals.append("meets the 20x target" if pair_ratio["codable"] >= 20 else "misses the 20x target")
    s += " (" + ", ".join(goals) + ")."
    if "decode" in callgrind and "encode" in callgrind:
        s += (f" Decoding takes {fmt(callgrind['decode']['per_op'])} instructions, encoding {fmt(callgrind['encode']['per_op'])}.")
        validator = sum(pct for d, pct in callgrind["decode"]["top"] if "validateJSON" in d)
        if validator:
            s += (f" The validator, one pass over the whole response that also notes where the primitive's parameters "
                  f"start, takes {validator:.0f}% of the decode instructions (self cost): every byte is checked (UTF-8, escapes, "
                  "numbers), strings 16 bytes at a time in vector registers on 64-bit hosts (a byte at a time in "
                  "Embedded builds, for size: see the Embedded pair's count above; on x86-64 each 16-byte test is one SSE2 byte mask, `pmovmskb`, whose bits also give "
                  "where a string ends and the next member name starts), and the usual separators (`\", \"`, `\": \"`) "
                  "take short paths. The rest is reading `rsc` "
                  "and `rqi` (the other parameters are only checked for their kind; their text, and the parsed `ot`, are "
                  "found when read) and the two `pc` member lookups, which check a short name with one load and skip "
                  "values with the same vector scan. Top-level names reach their parameter slots through a perfect hash "
                  "of the name's first word. Encoding writes the request's fixed parameters as one run in one reservation "
                  "and the content from a template. What would move it: fewer instructions, or more of them per cycle. The "
                  "pair's time is its instruction count over the instructions per cycle the core completes for it (below): "
                  "the validator's steps depend on each other (each token's scan starts where the previous one ended), "
                  "and a busy neighbour on the core takes a share of its width. A structural index in the style "
                  "of simdjson was tried (session 8): 64-byte blocks classified into quote and structural bit masks "
                  "(Swift's SIMD types have no byte-mask-to-bits operation, so a multiply per 8 lanes), strings found by a "
                  "prefix XOR, tokens walked by clearing bits. It took about 6,600 instructions per decode instead of 3,300 "
                  "and twice the time, so it was not adopted. Session 10 retried it with `pmovmskb` masks, which remove that "
                  "multiply: a 64-byte window of special-byte masks walked bit by bit, in front of the validator, took a "
                  "decode from 2,850 to 3,691 instructions (about 90 per member against the validator's 60), so it was not "
                  "adopted either; the next step would be a different design (member positions recorded while validating, "
                  "so that reading a parameter never scans again).")
            if pair_ns["ours"] > 600:
                s += (f" At this run's speed the 600 ns target would need roughly {60000 / pair_ns['ours']:.0f}% of "
                      "today's time.")
    if pair_cycles:
        lo = min(min(a[0], b[0]) for a, b in json_clocks)
        hi = max(max(a[0], b[0]) for a, b in json_clocks)
        s += (f" The clock ran at {lo:.2f} to {hi:.2f} GHz, and a pair took about {fmt(med(pair_cycles))} cycles (median "
              "over the runs)")
        if "encode" in callgrind and "decode" in callgrind:
            pair_instructions = callgrind["encode"]["per_op"] + callgrind["decode"]["per_op"]
            s += f", about {pair_instructions / med(pair_cycles):.1f} instructions per cycle"
        s += "."
        if unshared_ns:
            s += (f" In the runs whose core-speed readings before and after both showed the core to itself (at least "
                  f"{UNSHARED:.1f} adds per cycle) a pair took {fmt(med(unshared_ns))} ns (median of {len(unshared_ns)}), "
                  + ("within" if med(unshared_ns) <= 600 else "above") + " the 600 ns target"
                  + (f"; in the others, {fmt(med(shared_ns))} ns." if shared_ns else "."))
        elif shared_ns:
            s += (" In every run a reading before or after it showed another hardware thread busy on the core "
                  f"(fewer than {UNSHARED:.1f} adds per cycle).")
    lines.append(s)
if o and b:
    lines.append(f"- **Allocations:** {o['per']:.3f} per request for ours in steady state against {b['per']:.1f} for "
                 "libmosquitto (which allocates per packet and per message); ours allocates only when the client is made.")
lines.append("- **What would move throughput:** at W=16 the cores are shared by three processes, so what counts is the CPU "
             "each needs per request; ours is dominated by validating and reading the response JSON (section 2), which the "
             "baseline skips. At W=1 the round trip is dominated by the broker and process wake-ups; our AE acknowledges the "
             "last packet of each read before handing it to the application (session 10: until then the PUBACK of a "
             "response left in the same `sendto` as the next request, one write per request, and W=1 measured 0.88x on "
             "this machine, the broker waiting on the AE's work), and packets that arrive together are acknowledged "
             "together. For the system as a whole "
             "the broker is the limit: with QoS 1 requests and answers, mosquitto reads three packets and writes four per "
             "request.")
for x in lines:
    w(x)
w("")
print("\n".join(L))
