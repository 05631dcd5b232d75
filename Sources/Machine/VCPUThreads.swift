import Glibc

/// Runs vCPUs at the same time: each body on a host thread of its own (a pthread), then waits
/// for all of them. Each body drives its own vCPU(s) through the shared `Machine`; the run
/// loop's watchdog is per thread (a POSIX timer signalling that thread) and a SIGINT/SIGTERM
/// taken by any thread interrupts the KVM_RUN of every thread (the C shim forwards it), so
/// each body's `run` throws `.timeout` or `.stopped` on its own thread as with one vCPU.
///
/// The bodies run concurrently: what they share must be safe to use from several threads at
/// once. A `Machine` is, for per-vCPU calls (`run`, registers, MMIO completion) on distinct
/// vCPUs and for guest memory reads and writes; its other methods (`addRegion`,
/// `setDirtyLogging`) need every vCPU stopped.
public enum VCPUThreads {
    /// Runs `bodies[i]` on thread i and returns their results in order, once all have ended.
    /// Throws only when a thread cannot be created (after joining the ones already started).
    public static func run<T>(_ bodies: [() throws -> T]) throws(MachineError) -> [Result<T, any Error>] {
        let n = bodies.count
        // One slot per thread, written only by that thread and read after it was joined.
        let results = UnsafeMutablePointer<Result<T, any Error>?>.allocate(capacity: n)
        results.initialize(repeating: nil, count: n)
        defer {
            results.deinitialize(count: n)
            results.deallocate()
        }
        var threads: [pthread_t] = []
        var failure: Int32 = 0
        for (i, body) in bodies.enumerated() {
            let work = ThreadWork { (results + i).pointee = Result { try body() } }
            let argument = Unmanaged.passRetained(work).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, vcpuThreadEntry, argument)
            guard rc == 0 else {
                // SAFETY: the thread was not created, so the retain above is ours to release.
                Unmanaged<ThreadWork>.fromOpaque(argument).release()
                failure = rc
                break
            }
            threads.append(thread)
        }
        for t in threads { pthread_join(t, nil) }
        if failure != 0 {
            throw .configuration("pthread_create for vCPU thread \(threads.count) failed: \(String(cString: strerror(failure)))")
        }
        // Every thread has been joined: each slot was written exactly once by its thread.
        return (0..<n).map { results[$0]! }
    }
}

/// The work of one thread, passed through pthread_create's argument.
final class ThreadWork {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

private func vcpuThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    // SAFETY: `argument` is the box retained once in VCPUThreads.run for this thread; taking
    // the retained value releases it when the work is done.
    let work = Unmanaged<ThreadWork>.fromOpaque(argument!).takeRetainedValue()
    work.body()
    return nil
}
