/// A scenario file that cannot run: which file, where in it (a JSON path such as
/// `$.variants[1].ops[3].raises[0].level`), and what was expected there.
public struct ScenarioFileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// `$` for the whole file.
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String { "\(file): \(path): \(message)" }

    /// `$.a[0].b` from a decoder's coding path.
    static func jsonPath(_ keys: [any CodingKey]) -> String {
        var s = "$"
        for k in keys {
            if let i = k.intValue {
                s += "[\(i)]"
            } else if k.stringValue.hasPrefix("[") {
                s += k.stringValue
            } else if k.stringValue.hasPrefix("Index ") {
                s += "[\(k.stringValue.dropFirst(6))]"
            } else {
                s += "." + k.stringValue
            }
        }
        return s
    }

    /// The error for a failed decode.
    init(file: String, decoding error: DecodingError) {
        self.file = file
        switch error {
        case .keyNotFound(let key, let ctx):
            path = Self.jsonPath(ctx.codingPath + [key])
            message =
                ctx.debugDescription.hasPrefix("No value associated")
                ? "missing required key '\(key.stringValue)'"
                : ctx.debugDescription
        case .typeMismatch(let type, let ctx):
            path = Self.jsonPath(ctx.codingPath)
            message =
                ctx.debugDescription.hasPrefix("Expected to decode") || ctx.debugDescription.isEmpty
                ? "expected \(Self.describe(type))" + Self.underlying(ctx)
                : ctx.debugDescription
        case .valueNotFound(let type, let ctx):
            path = Self.jsonPath(ctx.codingPath)
            message = "expected \(Self.describe(type)), found null"
        case .dataCorrupted(let ctx):
            path = Self.jsonPath(ctx.codingPath)
            message = ctx.debugDescription + Self.underlying(ctx)
        @unknown default:
            path = "$"
            message = "\(error)"
        }
    }

    private static func underlying(_ ctx: DecodingError.Context) -> String {
        ctx.underlyingError.map { ": \($0)" } ?? ""
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is UInt64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default:
            String(describing: type).hasPrefix("Array")
                ? "a list" : String(describing: type).hasPrefix("Dictionary") ? "an object" : "\(type)"
        }
    }
}
