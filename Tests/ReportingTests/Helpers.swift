import Foundation

/// Runs a program with `input` on stdin; returns (exit status, stdout). Nil if it cannot start.
func runProgram(_ path: String, _ args: [String], input: String) -> (Int32, String)? {
    guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let inPipe = Pipe()
    let outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    // Write stdin on another thread so a large output cannot deadlock the pipes.
    let data = Data(input.utf8)
    let writer = Thread {
        inPipe.fileHandleForWriting.write(data)
        try? inPipe.fileHandleForWriting.close()
    }
    writer.start()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}

/// Whether `perl` with TAP::Parser (Debian: perl-modules) is on this machine.
let perlHasTAPParser: Bool = {
    runProgram("/usr/bin/perl", ["-MTAP::Parser", "-e", "print 1"], input: "")?.1 == "1"
}()

/// Debian's python3 (the system one, where python3-yaml installs PyYAML).
let pythonPath = "/usr/bin/python3"

/// Whether that python3 can `import yaml`.
let pythonHasYAML: Bool = {
    runProgram(pythonPath, ["-c", "import yaml; print(1)"], input: "")?.1 == "1\n"
}()
