import Dispatch
import KVM

/// The shared state of `CatalogRunner`'s worker threads: the next job to take, the finished
/// outcomes by index, and one semaphore per job that the delivering thread waits on. (Dispatch
/// primitives, not Foundation's NSCondition: Foundation would link ICU into the static harness.)
final class JobPool: @unchecked Sendable {
    /// Guards `next`, `stopped` and `outcomes` (a semaphore of one).
    private let lock = DispatchSemaphore(value: 1)
    /// Signalled once per job: when its outcome is in, or when it will never run.
    private let ready: [DispatchSemaphore]
    /// Entered when a job is taken, left when its outcome is put.
    private let running = DispatchGroup()
    private var next = 0
    private var stopped = false
    private var outcomes: [VariantOutcome?]

    init(count: Int) {
        outcomes = Array(repeating: nil, count: count)
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
    }

    /// The next job's index, or nil when all are taken or a stop signal arrived.
    func take() -> Int? {
        lock.wait(); defer { lock.signal() }
        if VCPU.pendingStopSignal != nil { stopTaking() }
        guard !stopped, next < outcomes.count else { return nil }
        running.enter()
        next += 1
        return next - 1
    }

    /// No job is taken any more; the waiters of the jobs never taken wake up to nil.
    /// Called with `lock` held.
    private func stopTaking() {
        guard !stopped else { return }
        stopped = true
        for i in next..<outcomes.count { ready[i].signal() }
    }

    /// Stops handing out jobs (the worker threads could not be started).
    func stop() {
        lock.wait(); defer { lock.signal() }
        stopTaking()
    }

    func put(_ index: Int, _ outcome: VariantOutcome) {
        lock.wait()
        outcomes[index] = outcome
        lock.signal()
        ready[index].signal()
        running.leave()
    }

    /// Waits for job `index`; nil when it will never run (stopped before it was taken).
    func wait(for index: Int) -> VariantOutcome? {
        ready[index].wait()
        lock.wait(); defer { lock.signal() }
        return outcomes[index]
    }

    /// Waits until no job is running (after a stop, the ones already taken finish first).
    func waitForWorkers() {
        running.wait()
    }
}
