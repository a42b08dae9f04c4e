#!/usr/bin/env bash
# `make bench`: benchmarks that compare in one run, and write docs/performance.md.
#
#   scripts/bench.sh [RUNDIR]     RUNDIR holds the broker, ACME, raw results and logs
#                                 (default .run/bench)
#
# 1. Throughput: `onem2m bench` (our SDK as an AE) against a C AE on libmosquitto
#    (bench/baseline.c), both creating the same contentInstances through the same mosquitto
#    (set_tcp_nodelay true) and answered by the same responder (bench/responder.c, a C
#    libmosquitto client that answers every request with ACME's 2001 body and the request's
#    rqi). W = 1 and W = 16 requests in flight, the two sides interleaved, BENCH_REPS runs each
#    (median). CPU per request of client, broker and responder from rusage / schedstat.
# 2. JSON: our writer/reader against Foundation Codable and JSONSerialization
#    (Benchmarks/, ordo-one package-benchmark: wallClock + mallocCountTotal), the timed pairs
#    BENCH_JSON_REPS times (medians); ours on its own between two readings of the core's speed
#    (bench/clockprobe.c: clock and adds per cycle).
# 3. Per request in steady state, both AEs measured the same way, from two runs with different
#    N (difference / dN, so start-up and shutdown cancel out): heap allocations (LD_PRELOAD
#    counter, bench/mallocount.c), CPU time of AE, broker and responder, and system calls
#    (strace -c, when strace is installed).
# 4. Memory: VmHWM/VmRSS of Examples/SensorDaemon against ACME, and the static RAM of one
#    client with default capacities (Benchmarks/Sources/StaticRAM).
#
# Environment:
#   BENCH_SHORT=1       smoke mode: few requests, 1 repetition, short JSON runs; asserts nothing
#                       about speed; writes RUNDIR/performance.md instead of docs/performance.md
#   BENCH_OUT           where to write the report (default docs/performance.md, or see above)
#   BENCH_REPS          repetitions per comparison (default 9: single runs on a shared machine vary a lot)
#   BENCH_JSON_REPS     runs of the JSON pair timings (default 5; the report takes medians)
#   BENCH_N1, BENCH_N16 requests per run at W=1 / W=16 (default 30000 / 60000)
#   BENCH_SCRATCH       SwiftPM scratch path of the main package (default .build-bench)
#   BENCH_PKG_SCRATCH   scratch path of the Benchmarks package (default .build-bench-pkg)
#   BENCH_C_BIN         where the C programs are built (default .build-bench-c)
#   SWIFT, CC           the swift driver and the C compiler (default swift, cc)
#
# Every process this script starts is stopped by PID on exit (mosquitto and ACME through
# scripts/mosquitto.sh / scripts/services.sh, which only signal the PIDs in RUNDIR).
set -euo pipefail

started_at=$SECONDS
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
rundir="${1:-.run/bench}"
mkdir -p "$rundir"
rundir="$(cd "$rundir" && pwd)"
short="${BENCH_SHORT:-0}"
swift_cmd="${SWIFT:-swift}"
cc_cmd="${CC:-cc}"
scratch="$repo/${BENCH_SCRATCH:-.build-bench}"
pkg_scratch="$repo/${BENCH_PKG_SCRATCH:-.build-bench-pkg}"
cbin="$repo/${BENCH_C_BIN:-.build-bench-c}"
if [[ "$short" == 1 ]]; then
    reps=1 json_reps=2 n1=200 n16=1000 alloc_a=300 alloc_b=1300 readings=2 loop_a=200 loop_b=1200 cg_a=200 cg_b=1200 cgr_a=100 cgr_b=400
    out="${BENCH_OUT:-$rundir/performance.md}"
else
    reps="${BENCH_REPS:-9}" json_reps="${BENCH_JSON_REPS:-5}" n1="${BENCH_N1:-30000}" n16="${BENCH_N16:-60000}"
    alloc_a=2000 alloc_b=12000 readings=5 loop_a=2000 loop_b=12000 cg_a=2000 cg_b=12000 cgr_a=1000 cgr_b=4000
    out="${BENCH_OUT:-docs/performance.md}"
fi
cse_id="id-in"
container="cse-in/bench/data"

say() { printf '\n== %s\n' "$*" >&2; }
info() { printf '   %s\n' "$*" >&2; }
die() { echo "bench.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Clean-up: only what this script started.
resp_pid=""
broker_dir="$rundir/broker"
services_dir="$rundir/services"
broker_started=0
services_started=0
cleanup() {
    local rc=$?
    if [[ -n "$resp_pid" ]] && kill -0 "$resp_pid" 2>/dev/null; then
        kill -TERM "$resp_pid" 2>/dev/null || true
        wait "$resp_pid" 2>/dev/null || true
    fi
    if [[ $broker_started == 1 ]]; then bash scripts/mosquitto.sh stop "$broker_dir" >/dev/null 2>&1 || true; fi
    if [[ $services_started == 1 ]]; then bash scripts/services.sh stop "$services_dir" >/dev/null 2>&1 || true; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
say "dependencies"
as_root=()
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 && as_root=(sudo)
fi
if [[ ! -f /usr/include/mosquitto.h ]]; then
    info "libmosquitto-dev missing: apt-get install libmosquitto-dev"
    "${as_root[@]}" apt-get update >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libmosquitto-dev >&2
fi
command -v python3 >/dev/null || die "python3 is needed"
command -v "$cc_cmd" >/dev/null || die "no C compiler ($cc_cmd)"

# ---------------------------------------------------------------------------------------------
say "building (release)"
build_started=$SECONDS
for product in onem2m SensorDaemon; do
    if ! log="$("$swift_cmd" build -c release --product "$product" --scratch-path "$scratch" 2>&1)"; then
        echo "$log" >&2
        die "swift build -c release --product $product failed"
    fi
    info "$product: $(tail -n 1 <<<"$log")"
done
bin="$("$swift_cmd" build -c release --scratch-path "$scratch" --show-bin-path)"
onem2m="$bin/onem2m"
sensor="$bin/SensorDaemon"
mkdir -p "$cbin"
cflags=(-O2 -Wall -Wextra)
"$cc_cmd" "${cflags[@]}" -shared -fPIC bench/mallocount.c -o "$cbin/libmallocount.so"
"$cc_cmd" "${cflags[@]}" bench/responder.c -o "$cbin/responder" -lmosquitto
"$cc_cmd" "${cflags[@]}" bench/baseline.c -o "$cbin/baseline" -lmosquitto -ldl
"$cc_cmd" "${cflags[@]}" bench/rusage.c -o "$cbin/rusage"
"$cc_cmd" "${cflags[@]}" bench/clockprobe.c -o "$cbin/clockprobe"
info "C programs in $cbin"
if ! log="$("$swift_cmd" build --package-path Benchmarks --scratch-path "$pkg_scratch" -c release --product StaticRAM 2>&1)" \
    || ! log2="$("$swift_cmd" build --package-path Benchmarks --scratch-path "$pkg_scratch" -c release --product JSONLoop 2>&1)"; then
    echo "${log}${log2:-}" >&2
    die "building the Benchmarks package failed"
fi
info "Benchmarks package: $(tail -n 1 <<<"$log2")"
pkg_bin="$("$swift_cmd" build --package-path Benchmarks --scratch-path "$pkg_scratch" -c release --show-bin-path)"
build_seconds=$((SECONDS - build_started))

raw="$rundir/raw"
rm -rf "$raw"
mkdir -p "$raw"
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "cores=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "swift=$("$swift_cmd" --version 2>/dev/null | head -n 1)"
    echo "mosquitto=$(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo unknown)"
    echo "libmosquitto=$(dpkg-query -W -f='${Version}' libmosquitto1 2>/dev/null || echo unknown)"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "short=$short"
    echo "reps=$reps"
    echo "n1=$n1"
    echo "n16=$n16"
    echo "alloc_a=$alloc_a"
    echo "alloc_b=$alloc_b"
    echo "loop_a=$loop_a"
    echo "loop_b=$loop_b"
    echo "cgr_a=$cgr_a"
    echo "cgr_b=$cgr_b"
    echo "build_seconds=$build_seconds"
} >"$raw/machine.txt"

# ---------------------------------------------------------------------------------------------
say "broker and responder"
bash scripts/mosquitto.sh stop "$broker_dir" >/dev/null 2>&1 || true
port="$(bash scripts/mosquitto.sh start "$broker_dir")"
broker_started=1
grep -qx 'set_tcp_nodelay true' "$broker_dir/mosquitto.conf" || die "$broker_dir/mosquitto.conf lacks set_tcp_nodelay true"
broker_pid="$(cat "$broker_dir/mosquitto.pid")"
info "mosquitto pid $broker_pid on 127.0.0.1:$port (set_tcp_nodelay true)"
"$cbin/responder" --port "$port" --cse-id "$cse_id" --stats "$raw/responder.stats" 2>"$rundir/responder.log" &
resp_pid=$!
for _ in $(seq 1 200); do
    grep -q ready "$rundir/responder.log" 2>/dev/null && break
    kill -0 "$resp_pid" 2>/dev/null || { cat "$rundir/responder.log" >&2; die "the responder exited"; }
    sleep 0.05
done
grep -q ready "$rundir/responder.log" || die "the responder did not subscribe in 10 s"
info "responder pid $resp_pid"

# CPU time of a process in ns, all its threads (schedstat: time on CPU).
cpu_ns() {
    local pid=$1 total=0 t v
    for t in /proc/"$pid"/task/*/schedstat; do
        read -r v _ <"$t" || v=0
        total=$((total + v))
    done
    echo "$total"
}

# client_cmd SIDE W N ORIGIN: sets `cmd` to the AE command line of one side.
client_cmd() {
    local side=$1 w=$2 n=$3 origin=$4
    if [[ $side == ours ]]; then
        cmd=("$onem2m" bench --broker "mqtt://127.0.0.1:$port" --cse-id "$cse_id" --origin "$origin"
            --to "$container" --requests "$n" --in-flight "$w" --timeout 10 --json)
    else
        cmd=("$cbin/baseline" --port "$port" --cse-id "$cse_id" --origin "$origin"
            --to "$container" --requests "$n" --in-flight "$w" --timeout 10 --json)
    fi
}

# measure FILE SIDE W N LABEL ORIGIN [ENV...]: one run of an AE under the rusage wrapper, with
# the broker's and the responder's CPU time over the same run; appends a JSON line to FILE.
# With ENV (e.g. LD_PRELOAD=... MALLOCOUNT_OUT=...) the AE runs under `env ENV...`.
measure() {
    local file=$1 side=$2 w=$3 n=$4 label=$5 origin=$6
    shift 6
    local cmd
    client_cmd "$side" "$w" "$n" "$origin"
    local b0 r0 b1 r1 result
    rm -f "$raw/mallocount.txt"
    b0=$(cpu_ns "$broker_pid")
    r0=$(cpu_ns "$resp_pid")
    if ! result="$("$cbin/rusage" "$raw/rusage.txt" env "$@" "${cmd[@]}" 2>"$raw/stderr.txt")"; then
        cat "$raw/stderr.txt" >&2
        die "$side run failed: ${cmd[*]}"
    fi
    b1=$(cpu_ns "$broker_pid")
    r1=$(cpu_ns "$resp_pid")
    local user sys rss code allocs=-1 bytes=-1
    read -r user sys rss code <"$raw/rusage.txt"
    [[ -f "$raw/mallocount.txt" ]] && read -r allocs bytes <"$raw/mallocount.txt"
    [[ "$result" == \{* ]] || die "$side printed no JSON: $result"
    printf '{"side":"%s","w":%d,"n":%d,"label":"%s","result":%s,"clientUserUs":%d,"clientSysUs":%d,"clientMaxRssKb":%d,"brokerNs":%d,"responderNs":%d,"allocs":%d,"bytes":%d}\n' \
        "$side" "$w" "$n" "$label" "$result" "$user" "$sys" "$rss" $((b1 - b0)) $((r1 - r0)) "$allocs" "$bytes" >>"$file"
    local rate
    rate="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requestsPerSecond"])' "$result")"
    if ((allocs >= 0)); then
        info "$(printf '%-8s W=%-2s N=%-6s %9s req/s  %8s allocations' "$side" "$w" "$n" "$rate" "$allocs")"
    else
        info "$(printf '%-8s W=%-2s %-7s %9s req/s' "$side" "$w" "$label" "$rate")"
    fi
}

say "warm-up (not counted)"
measure "$raw/warmup.jsonl" ours 16 "$n1" warmup Cours00w0
measure "$raw/warmup.jsonl" baseline 16 "$n1" warmup Cbase00w0

say "throughput: ours vs libmosquitto baseline, interleaved, $reps run(s) each"
: >"$raw/runs.jsonl"
for ((rep = 1; rep <= reps; rep++)); do
    for w in 1 16; do
        n=$n1
        [[ $w == 16 ]] && n=$n16
        tag="$(printf '%02d' "$w")r$rep"
        if ((rep % 2 == 1)); then
            measure "$raw/runs.jsonl" ours "$w" "$n" "rep$rep" "Cours$tag"
            measure "$raw/runs.jsonl" baseline "$w" "$n" "rep$rep" "Cbase$tag"
        else
            measure "$raw/runs.jsonl" baseline "$w" "$n" "rep$rep" "Cbase$tag"
            measure "$raw/runs.jsonl" ours "$w" "$n" "rep$rep" "Cours$tag"
        fi
    done
done

say "steady state per request: allocations (LD_PRELOAD counter) and CPU, W=16, N=$alloc_a and N=$alloc_b"
: >"$raw/steady.jsonl"
for side in ours baseline; do
    for n in "$alloc_a" "$alloc_b"; do
        o="Cours"
        [[ $side == baseline ]] && o="Cbase"
        measure "$raw/steady.jsonl" "$side" 16 "$n" "steady" "$o$n" \
            LD_PRELOAD="$cbin/libmallocount.so" MALLOCOUNT_OUT="$raw/mallocount.txt"
    done
done

if command -v strace >/dev/null 2>&1; then
    say "system calls per request (strace -c, W=16, N=$loop_a and N=$loop_b)"
    for side in ours baseline; do
        for n in "$loop_a" "$loop_b"; do
            o="Cours"
            [[ $side == baseline ]] && o="Cbase"
            client_cmd "$side" 16 "$n" "${o}s$n"
            strace -f -c -o "$raw/strace.$side.$n" "${cmd[@]}" >/dev/null 2>"$raw/stderr.txt" \
                || { cat "$raw/stderr.txt" >&2; die "strace run of $side failed"; }
        done
        info "$side: done"
    done
fi

if command -v valgrind >/dev/null 2>&1 && command -v objcopy >/dev/null 2>&1; then
    say "instructions per request in each AE (callgrind, W=16, N=$cgr_a and N=$cgr_b)"
    # valgrind 3.19 cannot read the DWARF 5 that swiftc emits for onem2m: profile a copy without
    # debug information (the symbol table stays, so functions keep their names).
    objcopy --strip-debug "$onem2m" "$raw/onem2m-nodebug"
    for side in ours baseline; do
        for n in "$cgr_a" "$cgr_b"; do
            o="Cours"
            [[ $side == baseline ]] && o="Cbase"
            client_cmd "$side" 16 "$n" "${o}c$n"
            [[ $side == ours ]] && cmd[0]="$raw/onem2m-nodebug"
            valgrind --tool=callgrind --callgrind-out-file="$raw/callgrind.$side.$n" "${cmd[@]}" \
                >/dev/null 2>"$raw/callgrind.$side.$n.log" || { tail -n 20 "$raw/callgrind.$side.$n.log" >&2; die "callgrind run of $side failed"; }
            callgrind_annotate --auto=no --threshold=100 "$raw/callgrind.$side.$n" >"$raw/callgrind.$side.$n.txt" 2>/dev/null || true
        done
        info "$side: done"
    done
fi

say "stopping the responder and the broker"
kill -TERM "$resp_pid"
wait "$resp_pid" || die "the responder failed"
resp_pid=""
info "responder: $(cat "$raw/responder.stats") (messages user_us sys_us unanswered)"
bash scripts/mosquitto.sh stop "$broker_dir" >/dev/null 2>&1 || true
broker_started=0

# ---------------------------------------------------------------------------------------------
say "JSON: ours vs Codable vs JSONSerialization (package-benchmark, $json_reps runs)"
rm -rf "$raw/json"
json_run() {  # json_run REP PART [FILTER] [SKIP]: one package-benchmark run into $raw/json/repREP
    local rep="$1" log="$rundir/json-bench.$1.$2.log"
    mkdir -p "$raw/json/rep$rep"
    if ! BENCH_SHORT="$short" "$swift_cmd" package --package-path Benchmarks --scratch-path "$pkg_scratch" --disable-sandbox \
        benchmark ${3:+--filter "^$3\$"} ${4:+--skip "^$4\$"} --no-progress --format histogramPercentiles \
        --path "$raw/json/rep$rep" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "swift package benchmark failed (run $rep, $2)"
    fi
}
json_ours() {  # json_ours REP: our pair on its own, between two readings of the core's speed
    # (bench/clockprobe.c: this shared machine's speed changes from one minute to the next).
    "$cbin/clockprobe" >"$raw/json/rep$1/clock.before"
    json_run "$1" ours 'pair\.ours'
    "$cbin/clockprobe" >"$raw/json/rep$1/clock.after"
}
# Run 1: every JSON benchmark. Runs 2..: only the three timed pairs. Each run times Codable's and
# JSONSerialization's pairs, then ours on its own right after them (a few seconds later), so that
# the core's speed is read just around ours; the report takes medians over the runs, so one slow
# moment of the machine does not decide a ratio.
json_run 1 others '' 'pair\.ours'
json_ours 1
for rep in $(seq 2 "$json_reps"); do
    json_run "$rep" others 'pair\.(codable|jsonserialization)'
    json_ours "$rep"
done
info "$(find "$raw/json" -name '*.tsv' | wc -l) result files in $json_reps runs"

if command -v valgrind >/dev/null 2>&1; then
    say "where our JSON time goes (callgrind instruction counts, JSONLoop)"
    for op in encode decode; do
        for n in "$cg_a" "$cg_b"; do
            valgrind --tool=callgrind --callgrind-out-file="$raw/callgrind.$op.$n" "$pkg_bin/JSONLoop" "$op" "$n" \
                >/dev/null 2>"$raw/callgrind.$op.$n.log" || die "valgrind JSONLoop $op failed"
        done
        callgrind_annotate --auto=no "$raw/callgrind.$op.$cg_b" >"$raw/callgrind.$op.txt" 2>/dev/null || true
    done
    # The same count for the Codable pair (about 3x the work: a tenth of the iterations).
    for n in "$((cg_a / 10))" "$((cg_b / 10))"; do
        valgrind --tool=callgrind --callgrind-out-file="$raw/callgrind.codable-pair.$n" "$pkg_bin/JSONLoop" codable-pair "$n" \
            >/dev/null 2>"$raw/callgrind.codable-pair.$n.log" || die "valgrind JSONLoop codable-pair failed"
    done
    # The same pair as a board runs it: the Embedded Swift build (-Osize, byte-loop JSON scans) of
    # Tests/SizeProbes/JSONLoopEmbedded.swift, from scripts/cross.sh's host target.
    if ! log="$(bash scripts/cross.sh build host 2>&1)"; then
        echo "$log" >&2
        die "scripts/cross.sh build host failed"
    fi
    for n in "$cg_a" "$cg_b"; do
        valgrind --tool=callgrind --callgrind-out-file="$raw/callgrind.embedded-pair.$n" .build-cross/host/bin/JSONLoopEmbedded "$n" \
            >/dev/null 2>"$raw/callgrind.embedded-pair.$n.log" || die "valgrind JSONLoopEmbedded failed"
    done
    callgrind_annotate --auto=no "$raw/callgrind.embedded-pair.$cg_b" >"$raw/callgrind.embedded-pair.txt" 2>/dev/null || true
    info "done"
fi

# ---------------------------------------------------------------------------------------------
say "memory: static RAM of one client (default capacities)"
env LD_PRELOAD="$cbin/libmallocount.so" "$pkg_bin/StaticRAM" >"$raw/staticram.json"
info "$(cat "$raw/staticram.json")"

say "memory: SensorDaemon against ACME"
bash scripts/services.sh stop "$services_dir" >/dev/null 2>&1 || true
services_started=1
svc_out="$(bash scripts/services.sh start "$services_dir" 2>"$rundir/services.log")" || { tail -n 20 "$rundir/services.log" >&2; die "could not start mosquitto + ACME"; }
mqtt_port="$(sed -n 's/^MQTT_PORT=//p' <<<"$svc_out")"
[[ "$mqtt_port" =~ ^[0-9]+$ ]] || die "services.sh printed no MQTT_PORT"
"$sensor" --broker "mqtt://127.0.0.1:$mqtt_port" --origin Cbenchsensor --name bench-sensor \
    --interval 0.2 --readings "$readings" >"$rundir/sensor.log" 2>&1 &
sensor_pid=$!
hwm=0 rss=0 anon=0 file=0 samples=0
while kill -0 "$sensor_pid" 2>/dev/null; do
    if status="$(cat /proc/"$sensor_pid"/status 2>/dev/null)"; then
        h="$(awk '/^VmHWM:/ {print $2}' <<<"$status")"
        r="$(awk '/^VmRSS:/ {print $2}' <<<"$status")"
        if [[ -n "$h" && -n "$r" ]]; then
            hwm=$h rss=$r samples=$((samples + 1))
            anon="$(awk '/^RssAnon:/ {print $2}' <<<"$status")"
            file="$(awk '/^RssFile:/ {print $2}' <<<"$status")"
        fi
    fi
    sleep 0.05
done
sensor_rc=0
wait "$sensor_pid" || sensor_rc=$?
printf '{"vmHWMKb":%d,"vmRSSKb":%d,"rssAnonKb":%d,"rssFileKb":%d,"samples":%d,"exit":%d,"readings":%d}\n' \
    "$hwm" "$rss" "${anon:-0}" "${file:-0}" "$samples" "$sensor_rc" "$readings" >"$raw/sensor.json"
info "$(cat "$raw/sensor.json")"
[[ $sensor_rc == 0 ]] || { cat "$rundir/sensor.log" >&2; die "SensorDaemon exited $sensor_rc"; }
bash scripts/services.sh stop "$services_dir" >/dev/null 2>&1 || true
services_started=0

# ---------------------------------------------------------------------------------------------
say "report"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw/machine.txt"
echo "runtime_seconds=$((SECONDS - started_at))" >>"$raw/machine.txt"
command_line="make bench"
[[ "$short" == 1 ]] && command_line="make bench BENCH_SHORT=1"
mkdir -p "$(dirname "$out")"
python3 bench/report.py "$raw" "$command_line" >"$out.tmp"
mv "$out.tmp" "$out"
info "wrote $out"
sed -n '/^## Summary/,/^## 1/p' "$out" | sed '$d' >&2
