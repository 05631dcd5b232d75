import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Stage2

/// `harness bench stage2 [--json]`: the Swift builder against the seed's algorithm in C,
/// side by side on this machine.
struct BenchStage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage2",
        abstract: "Stage-2 builder benchmark (ns per page/call/walk; ratio to the seed's C algorithm).",
        discussion: """
        Cases: map-4k (1 GiB of 4K pages, blocks off, IPA 0 → PA 0x80000000), map-4k-blocks
        (blocks on: one 1 GiB block), map-4k-2m-blocks (PA 0x80200000: 512 2 MiB blocks),
        map-64k (1 GiB of 64K pages), unmap-4k (that 1 GiB unmapped one page per call),
        walk-4k (1,000,000 random walks). Build with -c release for meaningful numbers.
        """
    )
    @Flag(help: "Print a JSON array of {case, nsPerOp, totalMs, tableBytes, ...}.") var json = false
    @Option(help: "Repetitions per case (the median is reported).") var repetitions = 5
    @Flag(help: "Report the fastest repetition instead of the median (for a machine shared with other work).") var minimum = false
    @Flag(help: "Skip the seed baseline.") var noBaseline = false
    @Option(name: .customLong("case"), help: "Run only this case (repeatable).") var cases: [String] = []

    func run() throws {
        let names = cases.isEmpty ? Stage2Benchmark.caseNames : cases
        for n in names where !Stage2Benchmark.caseNames.contains(n) {
            throw stage2Fail("--case: unknown case '\(n)' (known: \(Stage2Benchmark.caseNames.joined(separator: ", ")))")
        }
        guard repetitions >= 1 else { throw stage2Fail("--repetitions must be at least 1") }
        Stage2Benchmark.useMinimum = minimum
        var rows: [String] = []
        if !json {
            print("case               ns/op    total ms  table bytes   host bytes   seed ns/op  seed ms     speed-up")
        }
        for name in names {
            let r = Stage2Benchmark.run(name, repetitions: repetitions)!
            let s = noBaseline ? nil : SeedBaselineBenchmark.run(name, repetitions: repetitions)
            let ratio = s.map { $0.nsPerOp / r.nsPerOp }
            if json {
                var o = "{\"case\":\"\(name)\",\"nsPerOp\":\(fmt(r.nsPerOp)),\"totalMs\":\(fmt(r.totalMs)),\"tableBytes\":\(r.tableBytes)"
                o += ",\"hostBytes\":\(r.hostBytes),\"operations\":\(r.operations),\"invalidations\":\(r.invalidations)"
                if let s, let ratio {
                    o += ",\"baselineNsPerOp\":\(fmt(s.nsPerOp)),\"baselineTotalMs\":\(fmt(s.totalMs)),\"baselineTableBytes\":\(s.tableBytes),\"speedup\":\(fmt(ratio))"
                }
                rows.append(o + "}")
            } else {
                var line = pad(name, 16) + lpad(fmt(r.nsPerOp), 9) + lpad(fmt(r.totalMs), 12) + lpad("\(r.tableBytes)", 13) + lpad("\(r.hostBytes)", 13)
                if let s, let ratio { line += lpad(fmt(s.nsPerOp), 13) + lpad(fmt(s.totalMs), 10) + lpad(fmt(ratio) + "×", 12) }
                print(line)
            }
        }
        if json { print("[" + rows.joined(separator: ",") + "]") }
    }

    func fmt(_ v: Double) -> String {
        if v >= 100 { return fixed(v, 0) }
        if v >= 1 { return fixed(v, 2) }
        return fixed(v, 4)
    }
    /// `v` with `decimals` digits after the point (rounded half away from zero), no exponent.
    func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return String(v) }
        let scale = (0..<decimals).reduce(1.0) { r, _ in r * 10 }
        let n = (abs(v) * scale).rounded()
        guard n < 1e18 else { return String(v) }
        let whole = UInt64(n) / UInt64(scale), frac = UInt64(n) % UInt64(scale)
        let sign = v < 0 && n > 0 ? "-" : ""
        if decimals == 0 { return sign + String(whole) }
        let f = String(frac)
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - f.count) + f
    }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
