import Foundation
import Testing

/// Why the spec reader is not Foundation's JSONDecoder: a spec with a key twice is ambiguous
/// (which "tableBase" did the author mean?) and must be refused, but JSONDecoder accepts it
/// and silently keeps one value. Our reader refuses it (see HostileInputCLITests).
@Suite struct JSONDecoderLimitTests {
    @Test func jsonDecoderAcceptsDuplicateKeys() throws {
        struct Spec: Decodable { var tableBase: String }
        let text = #"{"tableBase": "0x40000000", "tableBase": "0x80000000"}"#
        let decoded = try JSONDecoder().decode(Spec.self, from: Data(text.utf8))
        // No error, and one of the two values chosen without a word.
        #expect(["0x40000000", "0x80000000"].contains(decoded.tableBase))
        let dictionary = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        #expect(dictionary.count == 1)
    }
}
