#!/usr/bin/env bash
# Make the interpreters and the project venv, reusing the cache when it is there.
#   - a free-threaded CPython 3.13 (python3.13t) and a GIL CPython 3.13 built from
#     the same Debian source package, under $FREEORDER_CACHE (~/.cache/freeorder);
#   - .venv: a 3.13t venv with freeorder installed editable, plus nox.
# A second run takes seconds. A missing build dependency stops the script with one
# line naming the Debian package to install (--install-build-deps installs it).
# --tsan: instead, build (or find) a 3.13t configured --with-thread-sanitizer under
# $FREEORDER_CACHE/cpython-3.13-nogil-tsan and print its python on stdout (nox -s tsan).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${FREEORDER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/freeorder}
suite=${FREEORDER_DEBIAN_SUITE:-trixie}
jobs=${FREEORDER_JOBS:-$(nproc 2>/dev/null || echo 2)}
say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$cache"
install_deps=0
tsan=0
for arg in "$@"; do
    case "$arg" in
        --install-build-deps) install_deps=1 ;;
        --tsan) tsan=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown argument $arg (known: --install-build-deps, --tsan)" ;;
    esac
done

# --- build dependencies: header or tool -> Debian package ----------------------
missing_build_deps() {
    command -v cc >/dev/null && command -v make >/dev/null || echo build-essential
    command -v xz >/dev/null || echo xz-utils
    local header pkg
    while read -r header pkg; do
        printf '#include <%s>\n' "$header" | cc -E -x c - >/dev/null 2>&1 || echo "$pkg"
    done <<'DEPS'
zlib.h zlib1g-dev
openssl/ssl.h libssl-dev
ffi.h libffi-dev
sqlite3.h libsqlite3-dev
bzlib.h libbz2-dev
lzma.h liblzma-dev
readline/readline.h libreadline-dev
ncurses.h libncurses-dev
uuid/uuid.h uuid-dev
DEPS
}

check_build_deps() {
    command -v apt-get >/dev/null || die "no apt-get: this script builds from Debian's source package"
    local missing; missing=$(missing_build_deps | sort -u | tr '\n' ' ')
    [ -z "$missing" ] && return
    if [ "$install_deps" = 1 ]; then
        say "installing build dependencies: $missing"
        local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get -qq update >&2
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -qq install -y --no-install-recommends $missing >&2
        return
    fi
    die "missing build dependencies; install them with: apt-get install $missing"
}

# --- source: Debian's python3.13 source package, upstream tarball only ----------
fetch_source() {
    local src="$cache/src"
    if ls "$src"/python3.13_*.orig.tar.xz >/dev/null 2>&1; then return; fi
    say "downloading Debian's python3.13 source package ($suite)"
    mkdir -p "$src/apt/lists/partial" "$src/apt/cache"
    printf 'deb-src http://deb.debian.org/debian %s main\n' "$suite" > "$src/apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$src/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$src/apt/lists" -o "Dir::Cache=$src/apt/cache"
                -o APT::Sandbox::User=root -o Debug::NoLocking=1)
    apt-get "${opts[@]}" -qq update >&2 || die "apt-get update for $suite deb-src failed"
    (cd "$src" && apt-get "${opts[@]}" -qq source --download-only python3.13 >&2) \
        || die "apt-get source python3.13 failed"
}

# build PREFIX CONFIGURE-FLAGS...: configure, make, install into PREFIX (atomic rename)
build() {
    local prefix=$1; shift
    local tarball work
    tarball=$(ls "$cache"/src/python3.13_*.orig.tar.xz | tail -n 1)
    work=$(mktemp -d "$cache/build.XXXXXX")
    rm -rf "$prefix"
    say "building $(basename "$prefix") from $(basename "$tarball") (configure $*), log in $work/build.log"
    tar -C "$work" -xJf "$tarball"
    local tree; tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    (
        cd "$tree"
        ./configure --prefix="$prefix" --with-ensurepip=install "$@" >"$work/build.log" 2>&1
        say "  configured; compiling with -j$jobs"
        make -j"$jobs" >>"$work/build.log" 2>&1
        say "  compiled; installing"
        make install >>"$work/build.log" 2>&1
    ) || { tail -n 30 "$work/build.log" >&2; die "build of $prefix failed (log: $work/build.log)"; }
    touch "$prefix/.complete"
    rm -rf "$work"
}

version_of() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'; }

# --tsan: the same source, free-threaded and thread-sanitized (compiler's -fsanitize=thread);
# no venv, the caller makes its own (ThreadSanitizer slows everything 5-15x).
if [ "$tsan" = 1 ]; then
    ps="$cache/cpython-3.13-nogil-tsan"
    if [ ! -f "$ps/.complete" ]; then
        check_build_deps
        fetch_source
        build "$ps" --disable-gil --with-thread-sanitizer
    fi
    "$ps/bin/python3.13t" -c 'import sys; assert not sys._is_gil_enabled()' || die "$ps is not free-threaded"
    say "thread-sanitized free-threaded: $ps/bin/python3.13t ($(version_of "$ps/bin/python3.13t"))"
    echo "$ps/bin/python3.13t"
    exit 0
fi

pt="$cache/cpython-3.13-nogil"
pg="$cache/cpython-3.13-gil"
if [ ! -f "$pt/.complete" ] || [ ! -f "$pg/.complete" ]; then
    check_build_deps
    fetch_source
    [ -f "$pt/.complete" ] || build "$pt" --disable-gil
    [ -f "$pg/.complete" ] || build "$pg"
fi
py_t="$pt/bin/python3.13t"
py_g="$pg/bin/python3.13"
"$py_t" -c 'import sys; assert not sys._is_gil_enabled()' || die "$py_t is not free-threaded"
say "free-threaded: $py_t ($(version_of "$py_t")); GIL: $py_g ($(version_of "$py_g"))"

# --- project venv ---------------------------------------------------------------
venv="$root/.venv"
stamp="$venv/.freeorder-stamp"
want="$(version_of "$py_t") $(sha1sum "$root/pyproject.toml" "$root/setup.py" "$root"/_atomics/*.c | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "making $venv (3.13t) with freeorder installed editable"
    rm -rf "$venv"
    "$py_t" -m venv "$venv"
    log="$venv/install.log"
    {
        "$venv/bin/python" -m pip install --upgrade pip &&
        "$venv/bin/python" -m pip install -e "$root[dev]" &&
        "$venv/bin/python" -m pip install --only-binary=:all: hypothesis
    } >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "installing into $venv failed (log: $log)"; }
    echo "$want" > "$stamp"
fi
say "ready: $venv/bin/python"
