import Machine

/// A Linux release as `uname -r` starts it: major.minor.patch (`7.3.4+deb13-arm64` → 7.3.4).
public struct KernelVersion: Sendable, Codable, Comparable, CustomStringConvertible {
    public var major: Int, minor: Int, patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Parses the leading `M.m[.p]` of a release string; nil when it does not start so.
    public init?(release: String) {
        let head = release.prefix { $0.isNumber || $0 == "." }
        let parts = head.split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let a = Int(parts[0]), let b = Int(parts[1]) else { return nil }
        let c = parts.count > 2 ? Int(parts[2]) : 0
        guard let c else { return nil }
        self.init(a, b, c)
    }

    /// The running kernel's release string (`uname -r`), nil when uname fails.
    public static func runningRelease() -> String? {
        HostProbe.uname()?.release
    }

    public static func < (l: KernelVersion, r: KernelVersion) -> Bool {
        (l.major, l.minor, l.patch) < (r.major, r.minor, r.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    // Codable as the string "M.m.p", the form a catalog file writes.
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let v = KernelVersion(release: s), v.description == s || "\(v.major).\(v.minor)" == s else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a kernel version M.m[.p]: '\(s)'"))
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
