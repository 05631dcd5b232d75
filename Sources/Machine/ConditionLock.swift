import Glibc

/// A mutex with a condition variable (pthread), for the few places threads share state:
/// `harness --jobs` and the host-health monitor. Foundation's NSLock/NSCondition would pull
/// the whole of Foundation into the static binary.
public final class ConditionLock: @unchecked Sendable {
    // Unsafe: pthread objects must not move once initialized, so they live in their own
    // allocations, freed in deinit.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for `broadcast` (the lock must be held; it is held again on return).
    public func wait() { pthread_cond_wait(condition, mutex) }
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// Runs `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
