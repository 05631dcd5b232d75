#!/bin/sh
# Runs inside the emulated arm64 host (busybox sh):
#   scripts/emu-host run --file scripts/emu-checks/signal-phases.sh -- sh signal-phases.sh
# SIGINT and SIGTERM are sent to a running `harness ... --format tap --output R` at two moments,
# found from the descriptors it holds (/proc/PID/fd, polled) once its first test's line is on
# stdout:
#   create  `--test demand-paging/4k --repeat 20`: a VM descriptor (anon_inode:kvm-vm) and no
#           vCPU descriptor yet: KVM_CREATE_VM done, memory and the vCPU being set up;
#   run     `--test demand-paging/4k --test two-vcpus/same-vmid-vmalls12`: the second test's
#           vCPU descriptors open for 2 s (its VMALLS12E1IS keeps the vCPUs in KVM_RUN for tens
#           of seconds under TCG).
# One line per case: what the descriptors showed when the signal went, the exit status (must be
# 128+n), result lines in the report file and on stdout, the stop line, temporary files left,
# then the report's result lines and messages.
# Exit 0 when every case ended 128+n with the report file written and nothing else left.
set -u
dir=/tmp/signal-phases
rm -rf "$dir"
mkdir -p "$dir"
bad=0

fds() { # fds PID: "VM VCPU", each 1 when such a descriptor is open (one ls per look: TCG is slow)
    l=$(ls -l "/proc/$1/fd" 2>/dev/null)
    case $l in *kvm-vm*) v=1 ;; *) v=0 ;; esac
    case $l in *kvm-vcpu*) c=1 ;; *) c=0 ;; esac
    echo "$v $c"
}

for sig in INT TERM; do
    [ "$sig" = INT ] && n=2 || n=15
    for phase in create run; do
        case_dir="$dir/$sig-$phase"
        # A look at the descriptors can miss the short create window; then the run completes
        # and the case is tried again (at most 3 times; a miss every time is a failure).
        attempt=0 seen=none
        while [ "$seen" = none ] && [ $attempt -lt 3 ]; do
            attempt=$((attempt + 1))
            rm -rf "$case_dir"
            mkdir -p "$case_dir"
            t0=$(date +%s)
            if [ "$phase" = create ]; then
                set -- --test demand-paging/4k --repeat 20
            else
                set -- --test demand-paging/4k --test two-vcpus/same-vmid-vmalls12
            fi
            harness "$@" --format tap --output "$case_dir/r.tap" > "$case_dir/out" 2> "$case_dir/err" &
            pid=$!
            # The first test's line on stdout (the human lines go there beside --output).
            i=0
            while ! grep -q '^[A-Z]' "$case_dir/out" 2>/dev/null && kill -0 "$pid" 2>/dev/null && [ $i -lt 6000 ]; do
                usleep 20000
                i=$((i + 1))
            done
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 20000 ]; do
                c=$(fds "$pid")
                vm=${c% *} vcpu=${c#* }
                if [ "$phase" = create ] && [ "$vm" -eq 1 ] && [ "$vcpu" -eq 0 ]; then
                    seen="vm=$vm vcpu=$vcpu"
                    break
                fi
                if [ "$phase" = run ] && [ "$vcpu" -eq 1 ]; then
                    sleep 2
                    c=$(fds "$pid")
                    seen="vm=${c% *} vcpu=${c#* } (after 2 s)"
                    break
                fi
                i=$((i + 1))
            done
            kill -"$sig" "$pid" 2>/dev/null
            rc=0
            wait "$pid" || rc=$?
        done
        t1=$(date +%s)
        in_file=$(grep -cE '^(ok|not ok) ' "$case_dir/r.tap" 2>/dev/null)
        on_stdout=$(grep -cE '^(PASS|FAIL|SKIP|TIMEOUT|XFAIL|XPASS) ' "$case_dir/out")
        stop=$(grep -o 'stopped by SIG[A-Z]* after [0-9]* of [0-9]* tests' "$case_dir/err" | head -1)
        left=$(find "$case_dir" -name '*.tmp-*' | wc -l)
        echo "SIG$sig $phase (attempt $attempt): sent at [$seen], exit $rc (want $((128 + n))), report file $in_file results, stdout $in_file/$on_stdout, '$stop', temporary files $left, $((t1 - t0)) s"
        grep -E '^(ok|not ok) |message:' "$case_dir/r.tap" | sed 's/^ */    /'
        if [ "$rc" -ne $((128 + n)) ] || [ ! -s "$case_dir/r.tap" ] || [ "$left" -ne 0 ] || [ -z "$stop" ] || [ "$seen" = none ]; then
            bad=1
            sed 's/^/    err: /' "$case_dir/err" | tail -5
        fi
    done
done
exit "$bad"
