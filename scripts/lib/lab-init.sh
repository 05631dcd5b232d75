#!/bin/busybox sh
# shellcheck shell=sh
# /init of the lab initramfs built by scripts/package: boots any arm64 kernel straight into the
# harness. Mounts proc/sys/dev, loads the kernel modules the image carries (if any), runs
#   harness ARGS
# where ARGS are the kernel command line's words after `--` (default: --all --format ktap),
# prints the results on the console and powers off. The harness's exit status is printed as
#   nvharness: exit status N
# With `nvharness.shell` on the kernel command line it starts a shell on the console instead
# (prompt `nvharness# `), for lab frameworks that drive a shell: LAVA's lava-test-shell.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb NO_COLOR=1
mkdir -p /proc /sys /dev /tmp /root /out /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp

# Modules for kernels that build the drivers a lab needs (virtio-blk, ext4) as modules; the
# list is in load order (dependencies first).
if [ -f /lib/modules/load-order ]; then
    while read -r m; do
        [ -n "$m" ] && insmod "/lib/modules/$m" 2>/dev/null
    done < /lib/modules/load-order
    sleep 1
fi

# /dev/disk/by-uuid and by-label, as udev would make them (LAVA mounts its overlay disk by UUID).
mkdir -p /dev/disk/by-uuid /dev/disk/by-label
blkid 2>/dev/null | while IFS= read -r line; do
    dev=${line%%:*}
    case $line in *' UUID="'*) u=${line#*' UUID="'}; ln -sf "$dev" "/dev/disk/by-uuid/${u%%\"*}" ;; esac
    case $line in *' LABEL="'*) l=${line#*' LABEL="'}; ln -sf "$dev" "/dev/disk/by-label/${l%%\"*}" ;; esac
done

kvm=no; [ -c /dev/kvm ] && kvm=yes
echo "nvharness: $(uname -r) $(uname -m), /dev/kvm: $kvm, $(dmesg | grep -m1 -E 'kvm \[[0-9]+\]: .*mode initialized' | sed 's/^.*\]: //')"

case " $(cat /proc/cmdline) " in
*" nvharness.shell "*)
    export PS1='nvharness# '
    cd /root || exit 1
    echo "nvharness: lab shell; the harness is /bin/harness"
    setsid cttyhack sh -l
    ;;
*)
    [ $# -gt 0 ] || set -- --all --format ktap
    echo "nvharness: harness $*"
    cd /root || exit 1
    harness "$@"
    rc=$?
    echo "nvharness: exit status $rc"
    ;;
esac
sync
poweroff -f
