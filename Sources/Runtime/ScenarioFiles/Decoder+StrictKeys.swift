extension Decoder {
    /// Rejects any key of this object that `Keys` does not list, so a misspelt field is an
    /// error instead of being ignored. The error names the key and the keys that are allowed.
    /// Keys starting with "//" are comments (JSON has none) and are allowed anywhere.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let allowed = Keys.allCases.map(\.stringValue)
        for key in container.allKeys where !allowed.contains(key.stringValue) && !key.stringValue.hasPrefix("//") {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: codingPath + [key],
                    debugDescription: "unknown key '\(key.stringValue)'; expected one of: " + allowed.joined(separator: ", ")))
        }
    }

    /// The one key of `Keys` this object uses to say what it is (an event's or a host step's
    /// kind); exactly one must be present.
    func discriminator<Keys: CodingKey & CaseIterable>(among kinds: [Keys], what: String) throws -> Keys {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let present = kinds.filter { k in container.allKeys.contains { $0.stringValue == k.stringValue } }
        guard present.count == 1 else {
            let names = kinds.map(\.stringValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: present.isEmpty
                        ? "\(what) needs one of the keys: \(names)"
                        : "\(what) has \(present.map(\.stringValue).joined(separator: " and ")); give exactly one of: \(names)"))
        }
        return present[0]
    }
}
