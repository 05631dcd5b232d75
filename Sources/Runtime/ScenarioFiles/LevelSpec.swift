/// A fault level: 0 to 3, or derived from the geometry and the mappings so far.
public enum LevelSpec: Decodable, Sendable, Equatable {
    case level(Int)
    case derive

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self), (0...3).contains(n) {
            self = .level(n)
            return
        }
        if let s = try? c.decode(String.self), s == "derive" {
            self = .derive
            return
        }
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "expected a level 0 to 3, or \"derive\""))
    }
}
