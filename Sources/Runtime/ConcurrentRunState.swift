import Machine
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the threads of a concurrent multi-vCPU run share: whether one gave up, how many vCPUs
/// have reported HELLO, the host steps' marks, and one lock over the shared stage-2 tables.
final class ConcurrentRunState: Sendable {
    let abort = Atomic<Bool>(false)
    let hellos = Atomic<Int>(0)
    let vcpus: Int
    let deadline: ContinuousClock.Instant
    /// Held while a vCPU's host steps run (they may edit the shared tables).
    let tables = ConditionLock()
    private let marks = Mutex<Set<String>>([])

    init(vcpus: Int, deadline: ContinuousClock.Instant) {
        self.vcpus = vcpus
        self.deadline = deadline
    }

    var aborted: Bool { abort.load(ordering: .sequentiallyConsistent) }

    func mark(_ name: String) { marks.withLock { _ = $0.insert(name) } }
    func isMarked(_ name: String) -> Bool { marks.withLock { $0.contains(name) } }

    /// Waits until every vCPU has reported HELLO (made its first KVM_RUN), so no vCPU starts
    /// its ops while another one has not entered the guest yet (with 4 vCPUs in the emulated
    /// host, vCPU 0 once reached its loop while vCPUs 1-3 never reported HELLO). False when
    /// another thread gave up or the deadline passed.
    func allSaidHello() -> Bool {
        hellos.add(1, ordering: .sequentiallyConsistent)
        while hellos.load(ordering: .sequentiallyConsistent) < vcpus {
            if aborted || ContinuousClock.now >= deadline { return false }
            sched_yield()
        }
        return true
    }
}
