#!/bin/sh
# lava/nvharness.sh — run the harness on a LAVA device and report each variant to LAVA.
#
#   nvharness.sh [-b HARNESS] [-o OUTDIR] [-a "HARNESS ARGS"]
#
# Runs `HARNESS ARGS --format ktap --output OUTDIR/results.ktap --junit OUTDIR/results.xml`
# (human lines on the console), prints the KTAP report into the log, then reads it:
#   each `# Subtest: NAME` block    -> lava-test-set start NAME ... lava-test-set stop
#   each variant `ok N ID`          -> lava-test-case ID --result pass
#                `not ok N ID`      -> fail   (`# TIMEOUT` too)
#                `ok N ID # SKIP`   -> skip
# plus one case `nvharness-report`: pass when the report is complete (its `# Totals:` line is
# there), fail when the harness stopped without one (crash, bad arguments). Outside LAVA (no
# lava-test-case on PATH) the cases are printed as `nvharness-lava: case ID RESULT`.
# LAVA v2 has no way to attach files from the device; the KTAP report is in the job log between
# the `nvharness: KTAP report begins/ends` lines and stays in OUTDIR on the device.
# Only `[A-Za-z0-9_-]` ids are ever passed to LAVA's helpers.
set -u
harness=harness out=/tmp/nvharness args=--all
while getopts b:o:a: opt; do
    case $opt in
        b) harness=$OPTARG ;;
        o) out=$OPTARG ;;
        a) args=$OPTARG ;;
        *) echo "usage: $0 [-b HARNESS] [-o OUTDIR] [-a \"HARNESS ARGS\"]" >&2; exit 2 ;;
    esac
done

have_lava=0
command -v lava-test-case >/dev/null 2>&1 && have_lava=1
case_result() { # case_result ID RESULT
    if [ "$have_lava" = 1 ]; then lava-test-case "$1" --result "$2"; else echo "nvharness-lava: case $1 $2"; fi
}
test_set() { # test_set start NAME | test_set stop
    if [ "$have_lava" = 1 ]; then lava-test-set "$@"; else echo "nvharness-lava: set $*"; fi
}
valid_id() { case $1 in ''|*[!A-Za-z0-9_-]*) return 1 ;; *) return 0 ;; esac; }

mkdir -p "$out" || { echo "nvharness-lava: cannot create $out" >&2; exit 1; }
rm -f "$out/results.ktap" "$out/results.xml"
set -f                       # the arguments may hold globs (--filter 'demand-paging/*'): no expansion
# shellcheck disable=SC2086  # ARGS is a list of words
"$harness" $args --format ktap --output "$out/results.ktap" --junit "$out/results.xml"
rc=$?
set +f
echo "nvharness-lava: harness exit status $rc (0 pass, 1 fail, 77 all skipped, 124 timeout)"

if [ ! -f "$out/results.ktap" ]; then
    echo "nvharness-lava: no KTAP report: the harness did not finish a run"
    case_result nvharness-report fail
    exit 0
fi
echo "nvharness: KTAP report begins ($out/results.ktap)"
cat "$out/results.ktap"
echo "nvharness: KTAP report ends"

in_set=0 complete=0
while IFS= read -r line; do
    case $line in
        "  # Subtest: "*)
            name=${line#"  # Subtest: "}
            if valid_id "$name"; then test_set start "$name"; in_set=1; fi
            ;;
        "  ok "*|"  not ok "*)
            l=${line#"  "}
            case $l in
                "not ok "*) result=fail; l=${l#"not ok "} ;;
                *) result=pass; l=${l#"ok "} ;;
            esac
            l=${l#* }                    # drop the number
            id=${l%% *}
            case $l in
                *" # SKIP"*) result=skip ;;
                *" # TIMEOUT"*) result=fail ;;
            esac
            if valid_id "$id"; then case_result "$id" "$result"; else echo "nvharness-lava: ignoring a result line without a valid id: $line"; fi
            ;;
        "ok "*|"not ok "*)
            if [ "$in_set" = 1 ]; then test_set stop; in_set=0; fi
            ;;
        "# Totals: "*) complete=1 ;;
    esac
done < "$out/results.ktap"
[ "$in_set" = 1 ] && test_set stop
if [ "$complete" = 1 ]; then case_result nvharness-report pass; else case_result nvharness-report fail; fi
exit 0
