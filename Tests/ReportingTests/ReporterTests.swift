import Foundation
import Testing

@testable import Reporting

@Suite(.serialized) struct ReporterTests {
    static func tempDir() throws -> String {
        var t = Array((NSTemporaryDirectory() + "/reporting-test-XXXXXX").utf8CString)
        // The path is read while the buffer is alive (mkdtemp returns a pointer into it).
        let path = t.withUnsafeMutableBufferPointer { b in mkdtemp(b.baseAddress!).map { String(cString: $0) } }
        return try #require(path)
    }

    static func runAll(_ r: Reporter) throws -> Int32 {
        for res in Fixture.results { r.record(res) }
        return try r.finish()
    }

    @Test(arguments: [OutputFormat.tap, .json, .junit])
    func machineFormatOnStdoutSummaryOnStderr(format: OutputFormat) throws {
        let out = StringSink()
        let err = StringSink()
        let r = try Reporter(format: format, run: Fixture.run, planned: 5, stdout: out, stderr: err, environment: [:])
        #expect(try Self.runAll(r) == 124)
        var f = format.formatter()
        #expect(out.text == f.render(Fixture.run, results: Fixture.results, planned: 5))
        #expect(err.text == "1 timed out (counted as failed)\n2 passed, 2 failed, 1 skipped, 0 xfail\n")
    }

    /// A descriptor sink on /dev/full keeps ENOSPC; `finish` then throws naming stdout, in
    /// every format, with and without `--output` (whose human lines go to stdout).
    @Test(arguments: [OutputFormat.human, .tap, .ktap, .json, .junit])
    func aFailedWriteToStdoutIsAnError(format: OutputFormat) throws {
        let fd = open("/dev/full", O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for output in [nil, dir + "/r"] {
            let sink = FileDescriptorSink(fd: fd)
            let r = try Reporter(
                format: format, outputPath: output, run: Fixture.run, planned: 5, stdout: sink, stderr: StringSink(), environment: [:])
            #expect(throws: ReportingError.cannotWriteStream(name: "stdout", errno: ENOSPC)) { try Self.runAll(r) }
            #expect(sink.writeError == ENOSPC)
        }
        // The same report to /dev/null is no error.
        let null = open("/dev/null", O_WRONLY)
        defer { close(null) }
        let r = try Reporter(
            format: format, run: Fixture.run, planned: 5, stdout: FileDescriptorSink(fd: null), stderr: StringSink(), environment: [:])
        #expect(try Self.runAll(r) == 124)
    }

    @Test func humanOnStdoutColouredOnlyOnATerminal() throws {
        for tty in [false, true] {
            let out = StringSink(isTerminal: tty)
            let err = StringSink()
            let r = try Reporter(format: .human, run: Fixture.run, planned: 5, stdout: out, stderr: err, environment: ["TERM": "xterm"])
            _ = try Self.runAll(r)
            var f = HumanFormatter(color: tty)
            #expect(out.text == f.render(Fixture.run, results: Fixture.results, planned: 5))
            #expect(out.text.contains("\u{1B}[") == tty)
            #expect(err.text.isEmpty)
        }
    }

    @Test func streamsEachResultAsItIsRecorded() throws {
        let out = StringSink()
        let err = StringSink()
        let r = try Reporter(format: .tap, run: Fixture.run, planned: 2, stdout: out, stderr: err, environment: [:])
        r.record(TestResult(name: "a", outcome: .passed))
        #expect(out.text.hasSuffix("ok 1 - a\n"))
        r.record(TestResult(name: "b", outcome: .skipped(reason: "no")))
        #expect(out.text.hasSuffix("ok 2 - b # SKIP no\n"))
        #expect(try r.finish() == 0)
        #expect(err.text == "1 passed, 0 failed, 1 skipped, 0 xfail\n")
    }

    @Test func outputFileGetsTheFormatStdoutGetsHumanLines() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/results.xml"
        let out = StringSink()
        let err = StringSink()
        let old = umask(0o022)
        defer { umask(old) }
        let r = try Reporter(format: .junit, outputPath: path, run: Fixture.run, planned: 5, stdout: out, stderr: err, environment: [:])
        r.record(Fixture.results[0])
        #expect(!FileManager.default.fileExists(atPath: path))  // nothing before finish
        for res in Fixture.results.dropFirst() { r.record(res) }
        #expect(try r.finish() == 124)
        var j = JUnitFormatter()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == j.render(Fixture.run, results: Fixture.results))
        var h = HumanFormatter(color: false)
        #expect(out.text == h.render(Fixture.run, results: Fixture.results, planned: 5))
        #expect(out.text.hasSuffix("\n2 passed, 2 failed, 1 skipped, 0 xfail\n"))
        #expect(err.text.isEmpty)
        // Only the result file is left; mode 0666 & ~022.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["results.xml"])
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o644)
    }

    @Test func badOutputPathsFailBeforeAnyTestRuns() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: ReportingError.directoryMissing(path: dir + "/nope/r.xml", directory: dir + "/nope")) {
            try Reporter(format: .junit, outputPath: dir + "/nope/r.xml", run: Fixture.run, stdout: StringSink(), stderr: StringSink())
        }
        #expect(throws: ReportingError.outputIsDirectory(path: dir)) {
            try Reporter(format: .junit, outputPath: dir, run: Fixture.run, stdout: StringSink(), stderr: StringSink())
        }
        #expect(ReportingError.directoryMissing(path: "a/b", directory: "a").description == "'a/b': directory 'a' does not exist")
    }

    /// A failure at the last step (rename) leaves neither a partial file nor the temporary,
    /// and an existing file of the same name is not touched.
    @Test func failedWriteLeavesNoPartialFile() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/results.xml"
        let r = try Reporter(format: .junit, outputPath: path, run: Fixture.run, stdout: StringSink(), stderr: StringSink())
        r.record(Fixture.results[0])
        // After validation, the target becomes a non-empty directory: rename(2) must fail.
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try "keep".write(toFile: path + "/other", atomically: false, encoding: .utf8)
        do {
            _ = try r.finish()
            Issue.record("finish() should have thrown")
        } catch {
            #expect(error.description.hasPrefix("cannot write '\(path)': rename failed:"))
            #expect(error.description.hasSuffix("no partial file was left"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["results.xml"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path) == ["other"])
        #expect(try String(contentsOfFile: path + "/other", encoding: .utf8) == "keep")
    }

    @Test func atomicReplaceOfAnExistingFile() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.json"
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        try AtomicFile.write("new\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.json"])
        // A relative path in the current directory has directory ".".
        #expect(AtomicFile.directory(of: "results.xml") == ".")
        #expect(AtomicFile.directory(of: "/results.xml") == "/")
        #expect(AtomicFile.directory(of: "a/b/c.xml") == "a/b")
    }
    /// `--color auto` on real descriptors: a pseudo-terminal is a terminal, a pipe is not.
    @Test func terminalDetectionUsesIsatty() throws {
        // The master side of a new pseudo-terminal (/dev/ptmx) answers the tty ioctls too.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(master >= 0, "cannot open /dev/ptmx")
        defer { close(master) }
        #expect(FileDescriptorSink(fd: master).isTerminal)
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(!FileDescriptorSink(fd: fds[1]).isTerminal)
        // And what is written to the sink arrives intact.
        FileDescriptorSink(fd: fds[1]).write("ok 1 - é\n")
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fds[0], &buf, buf.count)
        #expect(String(decoding: buf.prefix(max(0, n)), as: UTF8.self) == "ok 1 - é\n")
    }
}
