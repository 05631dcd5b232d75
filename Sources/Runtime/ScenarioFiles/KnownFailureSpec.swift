/// A known failure of a variant on some kernels, as data: the exact signature (the check's
/// failure text, or the ioctl and errno that failed), why, where it is documented, and the
/// kernels it applies to, and the host WARN that comes with it (`hostWarning`: the function the
/// splat names; exactly that splat keeps the failure known, any other fails). `harness` reports a matching failure as XFAIL (`--strict`: FAIL).
public struct KnownFailureSpec: Decodable, Sendable {
    public var record: KnownFailure

    enum CodingKeys: String, CodingKey, CaseIterable { case signature, reason, reference, kernels, hostWarning }
    enum SignatureKeys: String, CodingKey, CaseIterable { case check, ioctl }
    enum IoctlKeys: String, CodingKey, CaseIterable { case operation, errno }
    enum KernelKeys: String, CodingKey, CaseIterable { case introduced, fixedIn, fixedBy }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let sigDecoder = try c.superDecoder(forKey: .signature)
        try sigDecoder.rejectUnknownKeys(SignatureKeys.self)
        let sig = try sigDecoder.container(keyedBy: SignatureKeys.self)
        let signature: KnownFailure.Signature
        switch try sigDecoder.discriminator(among: SignatureKeys.allCases, what: "a signature") {
        case .check:
            signature = .check(try sig.decode(String.self, forKey: .check))
        case .ioctl:
            let io = try sig.superDecoder(forKey: .ioctl)
            try io.rejectUnknownKeys(IoctlKeys.self)
            let ic = try io.container(keyedBy: IoctlKeys.self)
            signature = .ioctl(operation: try ic.decode(String.self, forKey: .operation), errno: try ic.decode(String.self, forKey: .errno))
        }
        var kernels = KernelRange()
        if c.contains(.kernels) {
            let kd = try c.superDecoder(forKey: .kernels)
            try kd.rejectUnknownKeys(KernelKeys.self)
            let k = try kd.container(keyedBy: KernelKeys.self)
            func version(_ key: KernelKeys) throws -> KernelVersion? {
                guard let text = try k.decodeIfPresent(String.self, forKey: key) else { return nil }
                guard let v = KernelVersion(release: text), text.allSatisfy({ $0.isNumber || $0 == "." }) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: k, debugDescription: "'\(text)' is not a kernel version; expected e.g. \"6.16\" or \"7.3.4\"")
                }
                return v
            }
            kernels = KernelRange(
                introduced: try version(.introduced), fixedIn: try version(.fixedIn),
                fixedBy: try k.decodeIfPresent(String.self, forKey: .fixedBy))
        }
        record = KnownFailure(
            signature: signature, reason: try c.decode(String.self, forKey: .reason),
            reference: try c.decode(String.self, forKey: .reference), kernels: kernels,
            hostWarning: try c.decodeIfPresent(String.self, forKey: .hostWarning))
    }
}
