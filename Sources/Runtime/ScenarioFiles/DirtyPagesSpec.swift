/// `{"expectDirty": {"region", "pages", "payloadPages"}}`: the host pages of a `dirtyLog`
/// region (indexes from its start, in host pages) the dirty log must hold, exactly.
/// `payloadPages` (default true) adds, for a "ramSlot" region, the pages the payload writes on
/// every exit (message, vEL2 stack, op results); false when the guest has not run since the
/// last read.
public struct DirtyPagesSpec: Decodable, Sendable {
    public var region: String
    public var pages: [Int]
    public var payloadPages: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case region, pages, payloadPages }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        region = try c.decode(String.self, forKey: .region)
        pages = try c.decode([Int].self, forKey: .pages)
        if pages.contains(where: { $0 < 0 }) || Set(pages).count != pages.count {
            throw DecodingError.dataCorruptedError(
                forKey: .pages, in: c, debugDescription: "pages \(pages): distinct page indexes from 0")
        }
        payloadPages = try c.decodeIfPresent(Bool.self, forKey: .payloadPages) ?? true
    }
}
