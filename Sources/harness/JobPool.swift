import KVM
import Machine

/// The shared state of `CatalogRunner`'s worker threads: the next job to take, the finished
/// outcomes by index, and a condition the delivering thread waits on.
final class JobPool: @unchecked Sendable {
    private let condition = ConditionLock()
    private var next = 0
    private var running = 0
    private var workers = 0
    private var stopped = false
    private var outcomes: [VariantOutcome?]

    init(count: Int) { outcomes = Array(repeating: nil, count: count) }

    func workerStarted() { condition.withLock { workers += 1 } }

    func workerDone() {
        condition.lock()
        defer { condition.unlock() }
        workers -= 1
        condition.broadcast()
    }

    /// The next job's index, or nil when all are taken or a stop signal arrived.
    func take() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        if VCPU.pendingStopSignal != nil { stopped = true }
        guard !stopped, next < outcomes.count else {
            condition.broadcast()
            return nil
        }
        running += 1
        next += 1
        return next - 1
    }

    func put(_ index: Int, _ outcome: VariantOutcome) {
        condition.lock()
        defer { condition.unlock() }
        outcomes[index] = outcome
        running -= 1
        condition.broadcast()
    }

    /// Waits for job `index`; nil when it will never run (stopped before it was taken).
    func wait(for index: Int) -> VariantOutcome? {
        condition.lock()
        defer { condition.unlock() }
        while outcomes[index] == nil {
            if stopped && index >= next { return nil }
            condition.wait()
        }
        return outcomes[index]
    }

    /// Waits until every worker thread has left (after a stop, the jobs already taken finish
    /// first), so no thread outlives the run.
    func waitForWorkers() {
        condition.lock()
        defer { condition.unlock() }
        while workers > 0 || running > 0 { condition.wait() }
    }
}
