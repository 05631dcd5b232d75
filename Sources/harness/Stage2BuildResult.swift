import Stage2
import Stage2Spec

/// The line `stage2 build` prints: the registers for the built tables and where the pool is.
struct Stage2BuildResult: Encodable {
    var vtcr: String
    var vttbr: String
    var tableBase: String
    var tableBytes: String

    init(_ built: Stage2Build) {
        (vtcr, vttbr) = (stage2Hex(built.vtcr), stage2Hex(built.vttbr))
        (tableBase, tableBytes) = (stage2Hex(built.memory.base.rawValue), stage2Hex(built.memory.size))
    }

    /// The JSON line, newline-terminated.
    static func line(_ built: Stage2Build) throws -> String { try JSONText.encode(Stage2BuildResult(built)) + "\n" }
}
