import Glibc

/// Opens a file for the KVM layer (O_CLOEXEC always: the harness never passes KVM fds on).
func openFile(_ path: String, flags: Int32) throws(KVMError) -> Int32 {
    let fd = open(path, flags | O_CLOEXEC)
    if fd < 0 {
        let e = Glibc.errno
        throw KVMError(operation: "open(\(path))", errno: e, hint: openHint(path: path, errno: e))
    }
    return fd
}

/// A hint for a failed open of /dev/kvm: which group to join, or why the node is missing.
func openHint(path: String, errno e: Int32) -> String? {
    switch e {
    case ENOENT:
        return
            "\(path) does not exist: this kernel has no KVM (or the kvm module is not loaded); on an x86_64 machine run the harness in the emulated arm64 host: scripts/emu-host run -- harness …"
    case EACCES, EPERM:
        var st = stat()
        if stat(path, &st) == 0, let group = getgrgid(st.st_gid), let name = group.pointee.gr_name {
            let g = String(cString: name)
            let mode = String(st.st_mode & 0o777, radix: 8)
            if st.st_mode & 0o060 == 0o060 {
                return
                    "\(path) is owned by group '\(g)' (mode \(mode)): join it (sudo usermod -aG \(g) $USER, then log in again) or run as root"
            }
            return
                "\(path) has mode \(mode) (group '\(g)' has no read/write access): run as root, or let a group use it (usually udev makes it root:kvm 0660: sudo chgrp kvm \(path) && sudo chmod 660 \(path)) and join that group"
        }
        return "no permission to open \(path): join the group that owns it (usually 'kvm') or run as root"
    default:
        return nil
    }
}

/// Closes `fd`, retrying never (close(2) on Linux releases the fd even when it fails with EINTR).
@inline(__always) func closeFD(_ fd: Int32) {
    _ = Glibc.close(fd)
}
