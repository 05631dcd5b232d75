import ArgumentParser
import Machine
import Stage2

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

/// `harness bench stage2 [--json]`: the Swift builder against the seed's algorithm in C,
/// side by side on this machine, on the same geometry.
struct BenchStage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage2",
        abstract: "Stage-2 builder benchmark (ns per page/call/walk; ratio to the seed's C algorithm on the same geometry).",
        discussion: """
            Cases: map-4k (1 GiB of 4K pages, blocks off, IPA 0 → PA 0x80000000), map-4k-blocks
            (blocks on: one 1 GiB block), map-4k-2m-blocks (PA 0x80200000: 512 2 MiB blocks),
            map-64k (1 GiB of 64K pages), unmap-4k (that 1 GiB unmapped one page per call),
            walk-4k (1,000,000 random walks). Both sides run on the seed's geometry (48-bit IPA:
            4K from level 0, 64K from level 1) with a pool of exactly the table pages the case
            needs, allocated and zeroed before the clock starts; the Swift builder also runs at
            its own default (40-bit IPA). Each repetition runs every side once, the order rotating
            from one repetition to the next; min and median of each side are reported. With more
            than one case, each case runs in a process of its own (this program run again with
            --case), so no case's figures depend on what an earlier case left in the allocator
            and caches. Build with -c release for meaningful numbers.
            """
    )
    @Flag(
        help:
            "Print a JSON array of {case, unit, geometry, swift: {minNsPerOp, medianNsPerOp, ...}, baseline: {...}, speedupMin, speedupMedian}."
    )
    var json = false
    @Option(help: "Repetitions per side and case.") var repetitions = 7
    @Flag(help: "Skip the seed baseline.") var noBaseline = false
    @Option(name: .customLong("case"), help: "Run only this case (repeatable).") var cases: [String] = []
    @Flag(help: "Run every case in this process (each case's figures then depend on the cases before it).")
    var oneProcess = false

    /// The goals, as speed-ups over the baseline on the same geometry.
    static func goal(_ name: String) -> Double {
        name.hasPrefix("map") ? 5 : name.hasPrefix("unmap") ? 100 : 1
    }

    struct Side {
        var samples: [Stage2Benchmark.Sample] = []
        var sortedNsPerOp: [Double] { samples.map(\.nsPerOp).sorted() }
        var min: Double { sortedNsPerOp.first! }
        var median: Double {
            let s = sortedNsPerOp
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
    }

    func run() throws {
        let names = cases.isEmpty ? Stage2Benchmark.caseNames : cases
        for n in names where !Stage2Benchmark.caseNames.contains(n) {
            throw stage2Fail("--case: unknown case '\(n)' (known: \(Stage2Benchmark.caseNames.joined(separator: ", ")))")
        }
        guard repetitions >= 1 else { throw stage2Fail("--repetitions must be at least 1") }
        var rows: [Row] = []
        if names.count == 1 || oneProcess {
            for name in names { rows += measure(name) }
        } else {
            for name in names { rows += try measureInChild(name) }
        }
        if json {
            print(try JSONText.encode(rows))
            return
        }
        printTable(rows)
    }

    /// Both rows of case `name` (the seed's geometry on both sides, then ours at its default),
    /// measured in this process.
    func measure(_ name: String) -> [Row] {
        let clock = Stage2Benchmark.clockOverheadNanoseconds  // measured before any timed region
        var same = Side()
        var own = Side()
        var seed: Side? = noBaseline ? nil : Side()
        // Rotate the order each repetition so drift and warm-up hit every side alike.
        var order = noBaseline ? [0, 2] : [0, 1, 2]
        for _ in 0..<repetitions {
            for side in order {
                switch side {
                case 0: same.samples.append(Stage2Benchmark.measure(name, ipaBits: Stage2Benchmark.baselineIPABits)!)
                case 1: seed!.samples.append(SeedBaselineBenchmark.measure(name)!)
                default: own.samples.append(Stage2Benchmark.measure(name, ipaBits: Stage2Benchmark.defaultIPABits)!)
                }
            }
            order.append(order.removeFirst())
        }
        let unit = Stage2Benchmark.unit(name)
        var row = Row(
            case: name, unit: unit, geometry: "48-bit", ipaBits: Stage2Benchmark.baselineIPABits, clockNanoseconds: clock,
            swift: SideReport(same))
        if let s = seed {
            row.baseline = SideReport(s)
            (row.speedupMin, row.speedupMedian, row.goal) = (s.min / same.min, s.median / same.median, Self.goal(name))
        }
        let ownRow = Row(
            case: name, unit: unit, geometry: "default", ipaBits: Stage2Benchmark.defaultIPABits, clockNanoseconds: clock,
            swift: SideReport(own))
        return [row, ownRow]
    }

    /// Case `name` measured by this program run again with `--case name --json`.
    func measureInChild(_ name: String) throws -> [Row] {
        var arguments = ["bench", "stage2", "--case", name, "--json", "--repetitions", String(repetitions)]
        if noBaseline { arguments.append("--no-baseline") }
        let child: ChildProcess.Outcome
        do { child = try ChildProcess.run("/proc/self/exe", arguments) } catch {
            throw stage2Fail("case \(name): cannot run it in a process of its own: \(error)")
        }
        if child.status > 128 {  // killed by a signal (SIGINT from the terminal reaches both): exit as it did
            ResultOutput.error("bench stage2: case \(name) stopped by signal \(child.status - 128)")
            throw ExitCode(child.status)
        }
        guard child.status == 0 else { throw stage2Fail("case \(name): its process exited \(child.status)") }
        do { return try JSONDecoder().decode([Row].self, from: Data(child.output)) } catch {
            throw stage2Fail("case \(name): its process printed no rows (\(error))")
        }
    }

    func printTable(_ rows: [Row]) {
        let clocks = rows.map(\.clockNanoseconds)
        let clock = clocks.min()! == clocks.max()! ? "\(clocks.min()!)" : "\(clocks.min()!)–\(clocks.max()!)"
        print("Same geometry on both sides: 48-bit IPA (4K: 4 levels from level 0; 64K: 3 from level 1).")
        print("\(repetitions) repetitions per side, order rotating; ns per page (block cases: per 1 GiB map call) / unmap call / walk.")
        print("Thread CPU time on both sides, less the clock's own cost (\(clock) ns per timed region).")
        print("case              Swift min   median    seed min    median   speed-up min  median   goal   table bytes Swift/seed")
        for r in rows where r.geometry == "48-bit" {
            var line = pad(r.case, 16) + lpad(fmt(r.swift.minNsPerOp), 11) + lpad(fmt(r.swift.medianNsPerOp), 10)
            if let s = r.baseline, let a = r.speedupMin, let b = r.speedupMedian, let g = r.goal {
                line += lpad(fmt(s.minNsPerOp), 12) + lpad(fmt(s.medianNsPerOp), 10) + lpad(fmt(a) + "×", 12) + lpad(fmt(b) + "×", 9)
                line += lpad("≥\(fmt(g))×" + (Swift.min(a, b) >= g ? " ok" : " NO"), 11)
                line += lpad("\(r.swift.tableBytes)/\(s.tableBytes)", 22)
            } else {
                line += lpad("\(r.swift.tableBytes)", 22)
            }
            print(line)
        }
        print("")
        print("The Swift builder at its default geometry (40-bit IPA: 4K from a concatenated level-1 root, 3 levels):")
        print("case              Swift min   median   table bytes   host bytes")
        for r in rows where r.geometry == "default" {
            print(
                pad(r.case, 16) + lpad(fmt(r.swift.minNsPerOp), 11) + lpad(fmt(r.swift.medianNsPerOp), 10)
                    + lpad("\(r.swift.tableBytes)", 14) + lpad("\(r.swift.hostBytes)", 13))
        }
    }

    /// One side of one row of `--json`: the summary and the first sample's sizes.
    struct SideReport: Codable {
        var minNsPerOp: Double
        var medianNsPerOp: Double
        var repetitions: Int
        var operations: Int
        var tableBytes: UInt64
        var hostBytes: UInt64
        var invalidations: Int
        init(_ s: Side) {
            let x = s.samples[0]
            (minNsPerOp, medianNsPerOp, repetitions) = (s.min, s.median, s.samples.count)
            (operations, tableBytes, hostBytes, invalidations) = (x.operations, x.tableBytes, x.hostBytes, x.invalidations)
        }
    }

    /// One row of `--json`: a case on one geometry, with the baseline on the seed's.
    struct Row: Codable {
        var `case`: String
        var unit: String
        var geometry: String
        var ipaBits: Int
        /// The clock's own cost subtracted from each timed region in the process that measured.
        var clockNanoseconds: UInt64
        var swift: SideReport
        var baseline: SideReport?
        var speedupMin: Double?
        var speedupMedian: Double?
        var goal: Double?
    }

    /// Three significant digits below 100 (0.000123, 1.23, 45.6), whole numbers above.
    func fmt(_ v: Double) -> String {
        if v >= 100 || v <= 0 || !v.isFinite { return fixed(v, 0) }
        var decimals = 1
        var x = v
        while x < 10 {
            x *= 10
            decimals += 1
        }
        return fixed(v, decimals)
    }
    /// `v` with `decimals` digits after the point (rounded half away from zero), no exponent.
    func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return String(v) }
        let scale = (0..<decimals).reduce(1.0) { r, _ in r * 10 }
        let n = (abs(v) * scale).rounded()
        guard n < 1e18 else { return String(v) }
        let whole = UInt64(n) / UInt64(scale)
        let frac = UInt64(n) % UInt64(scale)
        let sign = v < 0 && n > 0 ? "-" : ""
        if decimals == 0 { return sign + String(whole) }
        let f = String(frac)
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - f.count) + f
    }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
