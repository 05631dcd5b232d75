# shellcheck shell=bash
# Shared helpers for scripts/build-aarch64, scripts/emu-host and scripts/harness-anywhere.
# Sourced, not executed.  Everything downloaded or built lives under $NVH_CACHE; every cached
# piece is built in a temporary directory next to its final place, moved there with one rename,
# and only then stamped, so an interrupted run never leaves something the next run would trust.

NVH_REPO=${NVH_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck disable=SC2034 # used by the scripts that source this file
NVH_CACHE=${NVH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nvharness}
# nvh_system_debian_mirror: the Debian archive URI this machine's own apt sources use for its
# release (the entry whose suite is /etc/os-release's VERSION_CODENAME with component main), so
# the scripts fetch from wherever apt is already set up to fetch. Prints nothing if none is found.
nvh_system_debian_mirror() {
    local codename f
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || return 0
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        case $f in
        *.sources) # deb822 stanzas: URIs / Suites / Components
            awk -v c="$codename" '
                function flush() {
                    if (!found && uris != "" && (suites " ") ~ (" " c " ") && (comps " ") ~ / main /) {
                        split(uris, u, " "); print u[1]; found = 1
                    }
                    uris = suites = comps = ""
                }
                /^[ \t]*$/ { flush(); next }
                /^URIs:/ { $1 = ""; uris = $0 }
                /^Suites:/ { $1 = ""; suites = $0 }
                /^Components:/ { $1 = ""; comps = $0 }
                END { flush() }' "$f" ;;
        *) # one-line format: deb [options] URI suite component...
            awk -v c="$codename" '$1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) != c) next
                for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit }
            }' "$f" ;;
        esac
    done | head -n 1 | sed 's:/*$::'
}
# Debian mirror used for every download (sid, trixie-backports, bookworm-backports): the one the
# system's apt sources already use, unless NVH_DEBIAN_MIRROR names another.
NVH_DEBIAN_MIRROR=${NVH_DEBIAN_MIRROR:-$(nvh_system_debian_mirror)}

# nvh_require_mirror: stop with a clear message when no Debian mirror is known.
nvh_require_mirror() {
    [ -n "$NVH_DEBIAN_MIRROR" ] && return 0
    nvh_die "no Debian mirror found in this machine's apt sources (no deb/deb822 entry for its release with component main); set NVH_DEBIAN_MIRROR to a Debian archive URI"
}

nvh_prog=${nvh_prog:-$(basename "$0")}
nvh_log()  { printf '%s: %s\n' "$nvh_prog" "$*" >&2; }
nvh_die()  { printf '%s: error: %s\n' "$nvh_prog" "$*" >&2; exit "${NVH_DIE_STATUS:-2}"; }

# nvh_now: seconds since the epoch with milliseconds, for timings.
nvh_now() { date +%s.%N | cut -c1-14; }
nvh_elapsed() { awk -v a="$1" -v b="$(nvh_now)" 'BEGIN { printf "%.1f", b - a }'; }

nvh_need_root() {
    [ "$(id -u)" = 0 ] && return 0
    nvh_die "$1 needs root (it uses chroot, mount namespaces and apt-get). Run it as root, e.g. 'sudo $0 ${*:2}'."
}

# nvh_host_install PKG... [-- apt-get options]: install Debian packages on the host with apt-get,
# refreshing the package lists once if the first attempt cannot find them.  Fails with the
# package names and the reason (not root / not available / no network).
nvh_host_install() {
    local pkgs=() opts=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then shift; opts=("$@"); break; fi
        pkgs+=("$1"); shift
    done
    if [ "$(id -u)" != 0 ]; then
        nvh_die "missing host packages: ${pkgs[*]}. Install them as root: apt-get install ${opts[*]} ${pkgs[*]}"
    fi
    nvh_log "installing host packages: ${pkgs[*]} ${opts[*]}"
    local log; log=$(mktemp)
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${opts[@]}" "${pkgs[@]}" >"$log" 2>&1; then
        rm -f "$log"; return 0
    fi
    nvh_log "apt-get install failed; refreshing package lists (apt-get update) and retrying"
    if ! apt-get update >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        nvh_die "apt-get update failed (no network or an unreachable apt source?) while installing: ${pkgs[*]}"
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${opts[@]}" "${pkgs[@]}" >"$log" 2>&1; then
        tail -n 20 "$log" >&2; rm -f "$log"
        nvh_die "could not install host packages '${pkgs[*]}' ${opts[*]} (see apt's message above: not in the configured suites, or no network)"
    fi
    rm -f "$log"
}

# nvh_have_cmd CMD PKG: install PKG on the host if CMD is missing.
nvh_ensure_cmd() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null 2>&1 || nvh_host_install "$pkg"
    command -v "$cmd" >/dev/null 2>&1 || nvh_die "'$cmd' still missing after installing $pkg"
}

# Stamps: a cached directory D is valid iff D.stamp exists and holds the expected key.
nvh_stamp_ok() { [ -d "$1" ] && [ -f "$1.stamp" ] && [ "$(cat "$1.stamp")" = "$2" ]; }
nvh_stamp_write() { printf '%s\n' "$2" > "$1.stamp.tmp" && mv -f "$1.stamp.tmp" "$1.stamp"; }
# nvh_replace_dir TMP FINAL KEY: move a finished TMP into place atomically, then stamp it.
nvh_replace_dir() {
    local tmp=$1 final=$2 key=$3 old=""
    rm -f "$final.stamp"
    if [ -e "$final" ]; then old="$final.old.$$"; mv "$final" "$old"; fi
    mv "$tmp" "$final"
    nvh_stamp_write "$final" "$key"
    if [ -n "$old" ]; then rm -rf --one-file-system "$old"; fi
}
# Remove leftovers of interrupted runs (tmp.* / *.old.* directories) under a cache folder.
nvh_clean_leftovers() {
    local d=$1 x
    [ -d "$d" ] || return 0
    for x in "$d"/*.tmp.* "$d"/*.old.*; do
        [ -e "$x" ] || continue
        # Only remove leftovers whose creating process is gone.
        local pid=${x##*.}
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
        rm -rf --one-file-system "$x"
    done
}
