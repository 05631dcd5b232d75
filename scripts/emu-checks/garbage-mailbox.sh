#!/bin/sh
# Runs inside the emulated arm64 host (busybox sh):
#   scripts/emu-host run --file scripts/emu-checks/garbage-mailbox.sh -- sh garbage-mailbox.sh
# The payload's garbage-mailbox self-test (`--garbage-mailbox SEED`: the guest writes
# xorshift32 words over its whole message page instead of HELLO, rings the doorbell with
# sequence number 1 and halts). Expected: every test FAILs with the host naming the bad field
# (the magic: the page's first word), exit 1, each test's VM torn down (its log says so), no
# harness process and no temporary file left. A harness that accepted the page, crashed, hung
# or failed any other way fails this check.
set -u
dir=/tmp/garbage-mailbox
rm -rf "$dir"
mkdir -p "$dir"
bad=0
for seed in 7 4242; do
    rc=0
    harness --test demand-paging/4k --test demand-paging/64k --garbage-mailbox "$seed" --format tap \
        --output "$dir/r-$seed.tap" --log-dir "$dir/logs-$seed" > "$dir/out-$seed" 2> "$dir/err-$seed" || rc=$?
    fails=$(grep -c '^not ok ' "$dir/r-$seed.tap")
    # Per test (its --log-dir log): the failure names the magic, and the VM was torn down.
    named=0 torn=0
    for log in "$dir/logs-$seed"/*.log; do
        [ -f "$log" ] || continue
        grep -q 'bad magic 0x[0-9a-f]* (expected 0x4d48564e)' "$log" && named=$((named + 1))
        grep -q 'VM torn down' "$log" && torn=$((torn + 1))
    done
    left=$(find "$dir" -name '*.tmp-*' | wc -l)
    alive=$(pidof harness | wc -w)
    echo "seed $seed: exit $rc (want 1), $fails of 2 tests failed, $named naming 'bad magic', $torn VMs torn down, $left temporary files, $alive harness processes left"
    grep -h 'bad magic' "$dir/r-$seed.tap" | sed 's/^ */    /'
    if [ "$rc" -ne 1 ] || [ "$fails" -ne 2 ] || [ "$named" -ne 2 ] || [ "$torn" -ne 2 ] || [ "$left" -ne 0 ] || [ "$alive" -ne 0 ]; then
        bad=1
        sed 's/^/    err: /' "$dir/err-$seed" | tail -5
    fi
done
exit "$bad"
