import Glibc

/// Whether this machine has a usable /dev/kvm (tests that need one are skipped otherwise).
let kvmUsable = access("/dev/kvm", R_OK | W_OK) == 0

/// Serialises tests that run vCPUs or send signals across the whole test process (KVMTests and
/// MachineTests run in one process, in parallel): an flock on a file in /tmp.
func withKVMTestLock<R>(_ body: () throws -> R) rethrows -> R {
    let fd = open("/tmp/nvharness-kvm-tests-v2.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
    precondition(fd >= 0, "cannot open the test lock file")
    defer { close(fd) }
    flock(fd, LOCK_EX)
    defer { flock(fd, LOCK_UN) }
    return try body()
}

/// The same lock, held from init until release() (for tests that create VMs without running them).
final class KVMTestLock {
    let fd: Int32
    init() {
        fd = open("/tmp/nvharness-kvm-tests-v2.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        precondition(fd >= 0, "cannot open the test lock file")
        flock(fd, LOCK_EX)
    }
    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
