#!/usr/bin/env bash
# Embedded Swift cross builds of the core, with plain swiftc and the toolset JSONs in Toolchains/
# (the same flags `swift build --toolset` uses), for three targets:
#
#   host     x86_64-unknown-linux-gnu in Embedded mode       Toolchains/x86_64-linux-gnu-embedded.json
#   aarch64  aarch64-none-none-elf + Debian arm64 glibc      Toolchains/aarch64-linux-gnu.json   (qemu-aarch64)
#   armv7    armv7-none-none-eabi, Thumb-2, hard-float glibc Toolchains/armv7-linux-gnueabihf.json (qemu-arm)
#
# Usage:
#   scripts/cross.sh deps                install the cross compilers, sysroots, qemu-user and mbedTLS for
#                                        each architecture (libmbedtls-dev[:arm64|:armhf]; only if missing)
#   scripts/cross.sh build [TARGET...]   core modules + CPosix + C API (libonem2m.a, with TLSTransport +
#                                        CMbedTLS; links mbedTLS statically into c-daemon; libonem2m-lto.a, the
#                                        same as bitcode, into c-daemon-lto; libonem2m.a also into c-daemon-gcc,
#                                        linked by the target's gcc and GNU ld) + EmbeddedRunner + EmbeddedAE +
#                                        c-daemon + size probe + JSONLoopEmbedded (make bench's JSON pair),
#                                        into .build-cross/<target>/
#   scripts/cross.sh test  [TARGET...]   build, then run EmbeddedRunner natively / under qemu
#   scripts/cross.sh e2e   [TARGET...]   start mosquitto + ACME (scripts/services.sh), run EmbeddedAE,
#                                        c-daemon, c-daemon-lto and c-daemon-gcc for each target against
#                                        them, stop them
#                                        (E2E_PROGRAMS="c-daemon" runs only the C daemon)
#   scripts/cross.sh all                 deps, test and e2e for every target (`make cross`)
#
# TARGET defaults to "host aarch64 armv7"; targets build in parallel (CROSS_JOBS, default nproc).
# Nothing here is a SwiftPM target, so `swift build` and
# `swift test` of the package never see these executables.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT_ROOT=${CROSS_OUT:-$ROOT/.build-cross}
ALL_TARGETS="host aarch64 armv7"
E2E_PROGRAMS=${E2E_PROGRAMS:-EmbeddedAE c-daemon c-daemon-lto c-daemon-gcc}
CORE="MQTTPacket MQTTTransport MQTTSession MQTTClient PosixTransport OneM2M OneM2MClient TLSTransport OneM2MCAPI"
# Every core module is compiled twice: native objects (obj/) and LLVM bitcode (lto/,
# `-lto=llvm-full -g`) for the Swift programs and libonem2m-lto.a, which lld links with whole-program
# optimisation. libonem2m.a holds one native object that lld and clang make from the C API modules'
# bitcode (capi_object): optimised as a whole program that exports only the C API, linkable by any C
# toolchain. `-g` adds only debug sections (no allocated bytes); scripts/size.py reads their line
# tables to attribute inlined code to its module.
LTO_FLAGS=(-lto=llvm-full -g)
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(command -v "$SWIFTC")")/clang}
[ -x "$CLANG" ] || CLANG=clang
NM=${NM:-$(dirname "$(command -v "$SWIFTC")")/llvm-nm}
AR=${AR:-$(dirname "$(command -v "$SWIFTC")")/llvm-ar}
[ -x "$AR" ] || AR=ar
LLD=${LLD:-$(dirname "$(command -v "$SWIFTC")")/ld.lld}

log() { echo "cross: $*" >&2; }
die() { echo "cross: $*" >&2; exit 1; }

# --- targets -------------------------------------------------------------------------------------

target_vars() { # sets TRIPLE TOOLSET QEMU SYSROOT for $1
    case "$1" in
        host) TRIPLE=x86_64-unknown-linux-gnu; TOOLSET=Toolchains/x86_64-linux-gnu-embedded.json; QEMU=(); SYSROOT=
              GNU_CC=gcc
              MBEDTLS_LIB=/usr/lib/x86_64-linux-gnu ;;
        aarch64) TRIPLE=aarch64-none-none-elf; TOOLSET=Toolchains/aarch64-linux-gnu.json
                 QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu); SYSROOT=/usr/aarch64-linux-gnu
                 GNU_CC=aarch64-linux-gnu-gcc
                 MBEDTLS_LIB=/usr/lib/aarch64-linux-gnu ;;
        armv7) TRIPLE=armv7-none-none-eabi; TOOLSET=Toolchains/armv7-linux-gnueabihf.json
               QEMU=(qemu-arm -L /usr/arm-linux-gnueabihf); SYSROOT=/usr/arm-linux-gnueabihf
               GNU_CC=arm-linux-gnueabihf-gcc
               MBEDTLS_LIB=/usr/lib/arm-linux-gnueabihf ;;
        *) die "unknown target '$1' (host, aarch64, armv7)" ;;
    esac
}

# The toolset JSON split into: Swift compile flags, clang link flags (the -Xclang-linker values),
# C flags. One flag per line.
toolset_flags() { # $1 = json, $2 = swift|link|c
    python3 - "$1" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
swift = t.get("swiftCompiler", {}).get("extraCLIOptions", [])
out, i = [], 0
while i < len(swift):
    if swift[i] == "-Xclang-linker":
        if sys.argv[2] == "link": out.append(swift[i + 1])
        i += 2
        continue
    if sys.argv[2] == "swift": out.append(swift[i])
    i += 1
if sys.argv[2] == "c": out = t.get("cCompiler", {}).get("extraCLIOptions", [])
print("\n".join(out))
PY
}

load_target() { # $1 = target; sets the *_FLAGS arrays and OUT
    target_vars "$1"
    mapfile -t SWIFT_FLAGS < <(toolset_flags "$TOOLSET" swift)
    mapfile -t LINK_FLAGS < <(toolset_flags "$TOOLSET" link)
    mapfile -t C_FLAGS < <(toolset_flags "$TOOLSET" c)
    SWIFT_FLAGS+=(-target "$TRIPLE" -Osize -parse-as-library)
    # Extra flags for experiments (e.g. CROSS_SWIFT_FLAGS="-Xllvm -sil-disable-pass=closure-specialize"
    # with CROSS_OUT=.build-cross-exp); word-split on purpose.
    # shellcheck disable=SC2206
    SWIFT_FLAGS+=(${CROSS_SWIFT_FLAGS:-})
    C_FLAGS+=(-target "$TRIPLE" -Os)
    OUT="$OUT_ROOT/$1"
    mkdir -p "$OUT/mod" "$OUT/obj" "$OUT/lto" "$OUT/bin"
}

# --- dependencies --------------------------------------------------------------------------------

deps() {
    local need=()
    for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || log "apt-get update reported errors; trying the install anyway"
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # The C API links mbedTLS (static archives of Debian's libmbedtls-dev for each architecture,
    # as scripts/tls-cross.sh does; the headers are architecture-independent).
    need=()
    local arch
    [ -f /usr/include/mbedtls/ssl.h ] && [ -f /usr/lib/x86_64-linux-gnu/libmbedtls.a ] || need+=(libmbedtls-dev)
    for arch in arm64:aarch64-linux-gnu armhf:arm-linux-gnueabihf; do
        if [ ! -f "/usr/lib/${arch#*:}/libmbedtls.a" ]; then
            dpkg --print-foreign-architectures | grep -qx "${arch%%:*}" || dpkg --add-architecture "${arch%%:*}"
            need+=("libmbedtls-dev:${arch%%:*}")
        fi
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # A partial index (one architecture mid-sync) must not stop the install.
        apt-get -o DPkg::Lock::Timeout=600 update -qq || log "apt-get update reported errors; trying the install anyway"
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    command -v ld.lld >/dev/null 2>&1 || [ -x "$(dirname "$CLANG")/ld.lld" ] || die "ld.lld missing (the Swift toolchain ships it)"
}

gcc_dir_check() { # the toolset JSONs name gcc 12's cross directories (Debian 12)
    local d
    for d in $(printf '%s\n' "${LINK_FLAGS[@]}" | sed -n 's/^--gcc-install-dir=//p'); do
        [ -d "$d" ] || die "$d missing: run scripts/cross.sh deps (or edit $TOOLSET for your gcc version)"
    done
}

# --- building ------------------------------------------------------------------------------------

swift_module() { # $1 = module name, $2... = sources
    local m=$1; shift
    "$SWIFTC" "${SWIFT_FLAGS[@]}" -I "$OUT/mod" -I Sources/CPosix/include -I Sources/COneM2M/include -I Sources/CMbedTLS/include \
        -module-name "$m" "$@" -emit-module -emit-module-path "$OUT/mod/$m.swiftmodule" -c -o "$OUT/obj/$m.o"
}

# An object without a module interface: an executable's own code, or (lto) the bitcode of a core
# module for whole-program links.
swift_obj() { # $1 = module name, $2 = obj|lto, $3... = sources
    local m=$1 dir=$2 extra=(); shift 2
    [ "$dir" = lto ] && extra=("${LTO_FLAGS[@]}")
    "$SWIFTC" "${SWIFT_FLAGS[@]}" "${extra[@]}" -I "$OUT/mod" -I Sources/CPosix/include -I Sources/COneM2M/include \
        -I Sources/CMbedTLS/include -module-name "$m" "$@" -c -o "$OUT/$dir/$m.o"
}

c_obj() { # $1 = source, $2 = object
    "$CLANG" "${C_FLAGS[@]}" -I Sources/CPosix/include -I Sources/COneM2M/include -c "$1" -o "$2"
}

link() { # $1 = output, $2... = objects and archives
    local out=$1; shift
    "$CLANG" "${LINK_FLAGS[@]}" "$@" -o "$out"
}

# A Swift program from bitcode objects: lld optimises the program as a whole (LTO), keeping each
# function's -Osize attributes. (The host toolset links with the system linker otherwise.)
link_lto() { # $1 = output, $2... = objects
    local out=$1; shift
    "$CLANG" "${LINK_FLAGS[@]}" -fuse-ld=lld "$@" -o "$out"
}

# The bitcode of the modules in the C API library (libonem2m.a, libonem2m-lto.a), for $OUT.
capi_bitcode() {
    local m
    CAPI_BITCODE=()
    for m in MQTTPacket MQTTTransport MQTTSession MQTTClient PosixTransport TLSTransport OneM2M OneM2MCAPI; do
        CAPI_BITCODE+=("$OUT/lto/$m.o")
    done
}

# The Swift half of libonem2m.a: the C API modules' bitcode linked by lld as a shared object whose
# version script exports only the C API (onem2m_*), with `--lto-emit-llvm`, so lld writes the
# optimised module instead of a shared library: every other symbol internalised, so LTO inlines
# single-caller functions, drops dead arguments and unused code, and propagates constants as for a
# program. clang then compiles that bitcode to one native object with the C code's flags (-fPIC, as
# the bitcode's PIC level; -function-sections; -disable-llvm-passes: optimised once, by lld, as in the
# whole-program links). The modules' debug information (-g) goes through, for scripts/size.py.
capi_object() { # $1 = native object to write, $2... = more lld options (symbols to keep)
    local out=$1 bc=${1%.o}.bc llvm_opts=() f
    shift
    # LLVM options of the toolset's link (-Wl,-mllvm,X) apply to this optimisation and code
    # generation too (armv7: -arm-load-store-opt=false, docs/known-issues.md): lld optimises, clang
    # generates the code, so both get them.
    for f in "${LINK_FLAGS[@]}"; do
        [[ $f == -Wl,-mllvm,* ]] && llvm_opts+=(-mllvm "${f#-Wl,-mllvm,}")
    done
    printf '{\n  global: onem2m_*;\n  local: *;\n};\n' >"$OUT/obj/onem2m-capi.map"
    "$LLD" -shared --version-script "$OUT/obj/onem2m-capi.map" "${llvm_opts[@]}" "$@" --lto-emit-llvm -o "$bc" \
        "${CAPI_BITCODE[@]}"
    "$CLANG" "${C_FLAGS[@]}" "${llvm_opts[@]}" -fPIC -Wno-override-module -Wno-unused-command-line-argument \
        -Xclang -disable-llvm-passes -c "$bc" -o "$out"
}

# lld options (`-u NAME`, one a line, for a response file) keeping every symbol that object $1
# defines weakly and the C API modules' bitcode defines strongly (external linkage, not weak or
# linkonce). `-u` marks a symbol used by a native object, so LTO keeps it (it may stay hidden: the
# modules' weak copies of another module's functions are hidden, and ELF merges visibilities to the
# strictest, so a version script could not export it; a static link does not need it exported).
runner_keep() { # $1 = object
    local -x LC_ALL=C  # join needs sort's order
    join <("$NM" -g --defined-only --format=posix "$1" | awk '$2 == "W" || $2 == "V" {print $1}' | sort -u) \
         <("$NM" -g --defined-only --format=posix "${CAPI_BITCODE[@]}" 2>/dev/null \
              | awk 'NF >= 2 && $2 ~ /^[TDRB]$/ {print $1}' | sort -u) | sed 's/.*/-u "&"/'
}

# True when $1 exists and is newer than every other argument (and the toolset and this script).
fresh() {
    local out=$1 f; shift
    [ -e "$out" ] || return 1
    [ -z "${CROSS_SWIFT_FLAGS:-}" ] || return 1
    for f in "$@" "$TOOLSET" "$0"; do [ "$f" -nt "$out" ] && return 1; done
    return 0
}

build() { # $1 = target
    local t=$1 m start=$SECONDS stale=0
    load_target "$t"
    gcc_dir_check
    # One build per target directory at a time (make -j may run size-check, c-example and cross together).
    exec 8>"$OUT/.lock"
    flock 8
    log "[$t] core modules ($TRIPLE)"
    # Modules build in dependency order; once one is rebuilt, everything after it is too.
    local inputs
    for m in $CORE; do
        inputs=(Sources/"$m"/*.swift Sources/CPosix/include/* Sources/COneM2M/include/* Sources/CMbedTLS/include/*)
        if [ $stale -eq 1 ] || ! fresh "$OUT/obj/$m.o" "${inputs[@]}" || ! fresh "$OUT/lto/$m.o" "${inputs[@]}"; then
            swift_module "$m" Sources/"$m"/*.swift
            swift_obj "$m" lto Sources/"$m"/*.swift
            stale=1
        fi
    done
    c_obj Sources/CPosix/cposix.c "$OUT/obj/CPosix.o"
    c_obj Sources/COneM2M/onem2m.c "$OUT/obj/COneM2M.o"
    # The mbedTLS shim: mbedTLS's headers are only in /usr/include (not in the cross sysroots).
    mkdir -p "$OUT/xinc"
    ln -sfn /usr/include/mbedtls "$OUT/xinc/mbedtls"
    "$CLANG" "${C_FLAGS[@]}" -I "$OUT/xinc" -I Sources/CMbedTLS/include -c Sources/CMbedTLS/cmbedtls.c -o "$OUT/obj/CMbedTLS.o"
    # The C API as one static library: everything a C daemon links except libc and mbedTLS. The Swift
    # part is one native object made from the modules' bitcode by an LTO link that exports only the C
    # API (capi_object): optimised across the modules and internalised, as a whole program would be.
    # (A relocatable link, `ld.lld -r`, which this replaced, keeps every global symbol, so nothing was
    # internalised: the C daemon's armv7 core was 2.5 KB bigger than c-daemon-lto's.) Its only global
    # symbols are the onem2m_* functions (and the Embedded runtime's weak, llvm.used
    # _swift_exceptionPersonality); the C shims need nothing from it.
    rm -f "$OUT/bin/libonem2m.a"
    capi_bitcode
    capi_object "$OUT/obj/onem2m-swift.o"
    "$AR" rcs "$OUT/bin/libonem2m.a" "$OUT"/obj/{onem2m-swift,CPosix,CMbedTLS,COneM2M}.o
    # The same as bitcode, for C daemons linked by clang with lld: the link then optimises the
    # library and the daemon's calls into it as one program (C objects stay native).
    rm -f "$OUT/bin/libonem2m-lto.a"
    "$AR" rcs "$OUT/bin/libonem2m-lto.a" "${CAPI_BITCODE[@]}" "$OUT"/obj/{CPosix,CMbedTLS,COneM2M}.o
    cp Sources/COneM2M/include/onem2m.h "$OUT/bin/"

    log "[$t] EmbeddedRunner, EmbeddedAE, MQTTClientProbe, JSONLoopEmbedded, c-daemon, c-daemon-lto, c-daemon-gcc"
    # The Swift programs are whole-program (LTO) builds, as a Swift firmware would be built; the
    # runner is also linked natively (EmbeddedRunner-native) from an object made as libonem2m.a's is.
    [ $stale -eq 0 ] && fresh "$OUT/lto/EmbeddedRunner.o" Tests/EmbeddedRunner/*.swift || swift_obj EmbeddedRunner lto Tests/EmbeddedRunner/*.swift
    link_lto "$OUT/bin/EmbeddedRunner" "$OUT/lto/EmbeddedRunner.o" "$OUT"/lto/{MQTTPacket,MQTTTransport,MQTTSession,MQTTClient,OneM2M}.o
    [ $stale -eq 0 ] && fresh "$OUT/obj/EmbeddedRunner.o" Tests/EmbeddedRunner/*.swift || swift_obj EmbeddedRunner obj Tests/EmbeddedRunner/*.swift
    # libonem2m.a's object keeps only the C API, so the native runner gets its own object from the
    # same bitcode by the same steps (capi_object), keeping also the core functions the runner takes
    # from the library: the runner's object holds a weak copy of every core function it uses (Embedded
    # Swift), and the library's strong definitions replace those copies at link time, as they did when
    # libonem2m.a's object kept every symbol (~184 on armv7). So the runner checks the native code of
    # those functions as this pipeline compiles them; C daemons get them inlined or specialised into
    # the onem2m_* functions instead, which the end-to-end runs (scripts/cross.sh e2e, c-example.sh) check.
    runner_keep "$OUT/obj/EmbeddedRunner.o" >"$OUT/obj/onem2m-runner.rsp"
    capi_object "$OUT/obj/onem2m-swift-runner.o" @"$OUT/obj/onem2m-runner.rsp"
    link "$OUT/bin/EmbeddedRunner-native" "$OUT/obj/EmbeddedRunner.o" "$OUT/obj/onem2m-swift-runner.o"
    [ $stale -eq 0 ] && fresh "$OUT/lto/EmbeddedAE.o" Examples/EmbeddedAE/main.swift || swift_obj EmbeddedAE lto Examples/EmbeddedAE/main.swift
    link_lto "$OUT/bin/EmbeddedAE" "$OUT/lto/EmbeddedAE.o" "$OUT"/lto/{MQTTPacket,MQTTTransport,MQTTSession,MQTTClient,PosixTransport,OneM2M,OneM2MClient}.o "$OUT/obj/CPosix.o"
    [ $stale -eq 0 ] && fresh "$OUT/lto/MQTTClientProbe.o" Tests/SizeProbes/MQTTClientProbe.swift || swift_obj MQTTClientProbe lto Tests/SizeProbes/MQTTClientProbe.swift
    link_lto "$OUT/bin/MQTTClientProbe" "$OUT/lto/MQTTClientProbe.o" "$OUT"/lto/{MQTTPacket,MQTTTransport,MQTTSession,MQTTClient}.o "$OUT/obj/CPosix.o"
    # The JSON pair of `make bench` in Embedded Swift (bench.sh counts its instructions on the host).
    [ $stale -eq 0 ] && fresh "$OUT/lto/JSONLoopEmbedded.o" Tests/SizeProbes/JSONLoopEmbedded.swift || swift_obj JSONLoopEmbedded lto Tests/SizeProbes/JSONLoopEmbedded.swift
    link_lto "$OUT/bin/JSONLoopEmbedded" "$OUT/lto/JSONLoopEmbedded.o" "$OUT/lto/OneM2M.o"
    c_obj Examples/c-daemon/main.c "$OUT/obj/c-daemon.o"
    # mbedTLS statically (Debian's archives for the target), so the daemon runs under qemu with the
    # cross sysroot alone; on a board -lmbedtls -lmbedx509 -lmbedcrypto may be the shared libraries.
    link "$OUT/bin/c-daemon" "$OUT/obj/c-daemon.o" "$OUT/bin/libonem2m.a" \
        -L"$MBEDTLS_LIB" -l:libmbedtls.a -l:libmbedx509.a -l:libmbedcrypto.a
    link_lto "$OUT/bin/c-daemon-lto" "$OUT/obj/c-daemon.o" "$OUT/bin/libonem2m-lto.a" \
        -L"$MBEDTLS_LIB" -l:libmbedtls.a -l:libmbedx509.a -l:libmbedcrypto.a
    # libonem2m.a is for any C toolchain: the same daemon compiled and linked by the target's gcc and
    # GNU ld, as docs/c-api.md shows a user doing it (run end to end with the others).
    "$GNU_CC" -Os Examples/c-daemon/main.c -I Sources/COneM2M/include "$OUT/bin/libonem2m.a" \
        -L"$MBEDTLS_LIB" -l:libmbedtls.a -l:libmbedx509.a -l:libmbedcrypto.a -Wl,--gc-sections \
        -o "$OUT/bin/c-daemon-gcc"
    check_no_unicode_tables "$t"
    # LLVM's ARM load/store optimiser at -Osize can clobber r10 (Swift's self) without saving it
    # (docs/known-issues.md); the armv7 toolset turns it off, and no armv7 function may do it.
    if [ "$t" = armv7 ]; then
        python3 scripts/r10-check.py --strict "$OUT"/bin/{EmbeddedRunner,EmbeddedRunner-native,EmbeddedAE,MQTTClientProbe,JSONLoopEmbedded,c-daemon,c-daemon-lto,c-daemon-gcc} >"$OUT/r10-check.txt" \
            || { cat "$OUT/r10-check.txt" >&2; die "[$t] a function returns with r10 changed (docs/known-issues.md)"; }
    fi
    log "[$t] built in $((SECONDS - start)) s"
}

# No Unicode data tables and no Foundation in any linked Embedded binary.
check_no_unicode_tables() {
    local b bad=0
    for b in EmbeddedRunner EmbeddedRunner-native EmbeddedAE MQTTClientProbe c-daemon c-daemon-lto; do
        if "$NM" "$OUT/bin/$b" 2>/dev/null | grep -E '_swift_stdlib_(getNormData|getComposition|getDecompose|getGraphemeBreak|getWordBreak|isExtendedPictographic|getScalar|getSpecialMapping|getMapping|getNameAlias|getAge|getGeneralCategory|getNumericType|getNumericValue|getScriptExtension)|_swift_stdlib_(nfd|nfc|grapheme|word|case|special)|Foundation' >/dev/null; then
            echo "cross: $b links Unicode tables or Foundation:" >&2
            "$NM" "$OUT/bin/$b" | grep -E '_swift_stdlib_|Foundation' | head >&2
            bad=1
        fi
    done
    [ $bad -eq 0 ] || die "Unicode tables / Foundation found"
}

run_on() { # $1 = target, rest = binary and arguments
    local t=$1; shift
    target_vars "$t"
    "${QEMU[@]}" "$@"
}

test_target() { # $1 = target
    local t=$1 out r
    build "$t"
    # The whole-program runner prints every check; the native one (libonem2m.a's code) its tally.
    for r in EmbeddedRunner EmbeddedRunner-native; do
        log "[$t] $r ${QEMU[*]:+under ${QEMU[0]}}"
        if ! out=$(run_on "$t" "$OUT/bin/$r" 2>&1); then
            echo "$out" >&2
            die "[$t] $r failed"
        fi
        [ "$r" = EmbeddedRunner ] || out=$(echo "$out" | tail -1)
        echo "$out" | sed "s/^/  [$t] /"
    done
    run_on "$t" "$OUT/bin/MQTTClientProbe" | sed "s/^/  [$t] /"
}

e2e() { # targets...
    local rundir="$OUT_ROOT/run-$$" line port rc=0 t
    rm -rf "$rundir"
    mkdir -p "$rundir"
    line=$(bash scripts/services.sh start "$rundir") || die "services did not start"
    port=${line#MQTT_PORT=}
    trap 'bash scripts/services.sh stop "'"$rundir"'" >/dev/null 2>&1 || true' EXIT
    log "mosquitto + ACME on 127.0.0.1:$port"
    local suffix=$$
    for t in "$@"; do
        target_vars "$t"
        OUT="$OUT_ROOT/$t"
        [ -x "$OUT/bin/EmbeddedAE" ] || die "[$t] not built (scripts/cross.sh build $t)"
        if [[ " $E2E_PROGRAMS " == *" EmbeddedAE "* ]]; then
            log "[$t] EmbeddedAE ${QEMU[*]:+under ${QEMU[0]}}"
            if run_on "$t" "$OUT/bin/EmbeddedAE" "$port" "$t$suffix" 2>&1 | sed "s/^/  [$t] /"; then :; fi
            [ "${PIPESTATUS[0]}" -eq 0 ] || { log "[$t] EmbeddedAE FAILED"; rc=1; }
        fi
        local d
        for d in c-daemon c-daemon-lto c-daemon-gcc; do
            [[ " $E2E_PROGRAMS " == *" $d "* ]] || continue
            log "[$t] $d ${QEMU[*]:+under ${QEMU[0]}}"
            if run_on "$t" "$OUT/bin/$d" "mqtt://127.0.0.1:$port" "$t${d#c-daemon}$suffix" 2>&1 | sed "s/^/  [$t] /"; then :; fi
            [ "${PIPESTATUS[0]}" -eq 0 ] || { log "[$t] $d FAILED"; rc=1; }
        done
    done
    bash scripts/services.sh stop "$rundir" >/dev/null 2>&1 || rc=1
    trap - EXIT
    [ $rc -eq 0 ] || die "end-to-end run failed (logs: $rundir)"
    rm -rf "$rundir"
    log "end-to-end: every AE registered, posted, deregistered"
}

# Runs "$1 TARGET" for every target, at most $(nproc) at a time (each swiftc is single-threaded),
# printing each target's log when it finishes. Fails if any failed.
parallel() {
    local fn=$1 t pids=() names=() i rc=0 jobs
    shift
    jobs=${CROSS_JOBS:-$(nproc 2>/dev/null || echo 2)}
    mkdir -p "$OUT_ROOT/logs"
    for t in "$@"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
        ( "$fn" "$t" ) >"$OUT_ROOT/logs/$fn-$t.log" 2>&1 &
        pids+=($!)
        names+=("$t")
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then rc=1; fi
        cat "$OUT_ROOT/logs/$fn-${names[$i]}.log" >&2
    done
    return $rc
}

cmd=${1:-all}
shift || true
targets=${*:-$ALL_TARGETS}
case "$cmd" in
    deps) deps ;;
    build) parallel build $targets ;;
    test) parallel test_target $targets ;;
    e2e) e2e $targets ;;
    all)
        start=$SECONDS
        deps
        parallel test_target $targets || die "embedded runner failed"
        e2e $targets
        log "all done in $((SECONDS - start)) s"
        ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
esac
