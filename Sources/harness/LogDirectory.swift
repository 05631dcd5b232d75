import ArgumentParser
import HostHealth
import Machine
import Reporting

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `--log-dir DIR`: one log per variant (`<test>_<variant>.log`, `.<n>` before `.log` per
/// repetition) with its outcome, faults, every exit decoded and the kernel-log lines logged
/// while it ran, and a `SUMMARY` file describing the run (written at the start, completed at
/// the end). Files are written atomically.
final class LogDirectory {
    let path: String
    private var summaryHead: [String] = []

    /// Creates DIR (and no parents) if needed; a usage error when it cannot be used.
    init(path: String) throws(ValidationError) {
        self.path = path
        if let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType {
            guard type == .typeDirectory else { throw ValidationError("--log-dir '\(path)' exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) } catch {
                throw ValidationError("--log-dir '\(path)': cannot create the directory (does its parent exist?)")
            }
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw ValidationError("--log-dir '\(path)' is not writable")
        }
    }

    /// The file name of a variant's log: characters outside [A-Za-z0-9._-] become '_'.
    static func fileName(test name: String, repetition: Int?) -> String {
        let safe = String(
            name.map { c -> Character in
                c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-") ? c : "_"
            })
        return safe + (repetition.map { ".\($0)" } ?? "") + ".log"
    }

    func write(_ outcome: VariantOutcome, budget: String) {
        let r = outcome.result
        var lines = ["test: \(r.name)"]
        if let rep = r.repetition { lines.append("repetition: \(rep)") }
        lines.append(
            "outcome: \(r.status.rawValue.uppercased())" + ((r.outcome.failureMessage ?? r.outcome.skipReason).map { ": " + $0 } ?? ""))
        lines.append("duration: \(formatSeconds(r.seconds)) s; \(budget)")
        if !r.parameters.isEmpty { lines.append("parameters: " + r.parameterText) }
        lines.append("")
        lines.append("faults (\(r.faults.count)):")
        lines += r.faults.map { "  " + $0 }
        lines.append("")
        lines.append("log (every exit, decoded):")
        lines += outcome.fullLog.map { "  " + $0 }
        lines.append("")
        if let h = outcome.health {
            lines.append("host health: " + (h.failureMessage ?? "no new splat, no new taint"))
            lines += h.logLines.map { "  " + $0 }
            lines.append("kernel log while the test ran (\(h.kernelLog.count) lines):")
            lines += h.kernelLog.map { "  " + $0 }
        } else {
            lines.append("kernel log: not read (the host health check is not done here, see SUMMARY)")
        }
        put(Self.fileName(test: r.name, repetition: r.repetition), lines)
    }

    /// Writes SUMMARY with what is known before the run.
    func beginSummary(_ facts: [String]) {
        summaryHead = facts
        put("SUMMARY", facts + ["", "results: the run has not finished"])
    }

    func finishSummary(results: [TestResult], exitStatus: Int32, extra: [String]) {
        let s = Summary(results)
        var tail = ["", "results: \(s.line)" + (s.timeoutLine.map { " (\($0))" } ?? ""), "exit status: \(exitStatus)"]
        tail += extra
        for r in results where r.status != .pass {
            tail.append("  \(r.status.rawValue.uppercased()) \(r.displayName): " + (r.outcome.failureMessage ?? r.outcome.skipReason ?? ""))
        }
        put("SUMMARY", summaryHead + tail)
    }

    private func put(_ name: String, _ lines: [String]) {
        let text = lines.joined(separator: "\n") + "\n"
        do { try AtomicFile.write(text, to: path + (path.hasSuffix("/") ? "" : "/") + name) } catch {
            FileDescriptorSink.standardError().write("harness: --log-dir: \(error)\n")
        }
    }
}
