import Synchronization
import Testing

@testable import Machine

@Suite struct VCPUThreadsTests {
    struct Boom: Error, Equatable { let k: Int }

    /// Every body waits until all of them have started: this finishes only if they run at
    /// the same time (one thread running them in turn would wait forever, cut at 60 s: only a
    /// broken VCPUThreads reaches it, not a loaded machine).
    @Test func bodiesRunAtTheSameTime() throws {
        let started = Atomic<Int>(0)
        let n = 4
        let results = try VCPUThreads.run(
            (0..<n).map { k in
                { () throws -> Int in
                    started.add(1, ordering: .sequentiallyConsistent)
                    let limit = ContinuousClock.now.advanced(by: .seconds(60))
                    while started.load(ordering: .sequentiallyConsistent) < n {
                        if ContinuousClock.now > limit { throw Boom(k: k) }
                    }
                    return k * 10
                }
            })
        #expect(results.map { try? $0.get() } == [0, 10, 20, 30])
    }

    @Test func errorsComeBackInOrder() throws {
        let results = try VCPUThreads.run([{ 1 }, { throw Boom(k: 1) }, { 3 }])
        #expect(try results[0].get() == 1)
        #expect(try results[2].get() == 3)
        #expect(throws: Boom(k: 1)) { try results[1].get() }
    }
}
