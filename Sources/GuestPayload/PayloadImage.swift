import GuestProtocol

/// The vEL2 payload built from `guest/` by the PayloadBuilder plugin at `swift build` time.
/// The bytes come from the generated `PayloadImage+Bytes.swift`; nothing binary is committed.
public enum PayloadImage {
    /// The position-independent image (load it at a `GuestABI.imageAlignment`-aligned address).
    public static let bytes: [UInt8] = decodeHex(hex)

    /// Offsets the host needs, read from the image's own header.
    public struct Header: Equatable, Sendable {
        public var el2Entry: UInt64
        public var nestedEntry: UInt64
        public var el2Vectors: UInt64
        public var el1Vectors: UInt64
    }

    /// The validated header (magic, version, offsets inside the image, vector alignment).
    public static func header() throws(GuestProtocolError) -> Header {
        try parseHeader(bytes)
    }

    public static func parseHeader(_ image: [UInt8]) throws(GuestProtocolError) -> Header {
        guard image.count >= GuestABI.imageHeaderSize else { throw .badImage("\(image.count) bytes, shorter than its header") }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(image[o + $1]) << (8 * $1) } }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(image[o + $1]) << (8 * $1) } }
        guard u64(GuestABI.imageOffMagic) == GuestABI.imageMagic else { throw .badImage("bad magic") }
        guard UInt64(u32(GuestABI.imageOffVersion)) == GuestABI.imageVersion else {
            throw .badImage("version \(u32(GuestABI.imageOffVersion))")
        }
        guard Int(u32(GuestABI.imageOffHeaderSize)) == GuestABI.imageHeaderSize else { throw .badImage("header size") }
        let h = Header(
            el2Entry: u64(GuestABI.imageOffEL2Entry), nestedEntry: u64(GuestABI.imageOffNestedEntry),
            el2Vectors: u64(GuestABI.imageOffEL2Vectors), el1Vectors: u64(GuestABI.imageOffEL1Vectors))
        for (name, offset) in [
            ("EL2 entry", h.el2Entry), ("nested entry", h.nestedEntry),
            ("EL2 vectors", h.el2Vectors), ("EL1 vectors", h.el1Vectors),
        ] {
            guard offset < UInt64(image.count), offset % 4 == 0 else { throw .badImage("\(name) offset 0x\(String(offset, radix: 16))") }
        }
        // VBAR_ELx bits [10:0] are RES0: vector tables are 2 KiB aligned (Arm ARM D24.2 VBAR_EL2).
        guard h.el2Vectors % 0x800 == 0, h.el1Vectors % 0x800 == 0 else { throw .badImage("vector table not 2 KiB aligned") }
        return h
    }

    static func decodeHex(_ text: StaticString) -> [UInt8] {
        text.withUTF8Buffer { utf8 in
            precondition(utf8.count % 2 == 0, "generated payload hex has odd length")
            func nibble(_ c: UInt8) -> UInt8 {
                switch c {
                case 0x30...0x39: return c - 0x30
                case 0x61...0x66: return c - 0x61 + 10
                default: preconditionFailure("generated payload hex has a non-hex character")
                }
            }
            var out = [UInt8]()
            out.reserveCapacity(utf8.count / 2)
            var i = 0
            while i < utf8.count {
                out.append(nibble(utf8[i]) << 4 | nibble(utf8[i + 1]))
                i += 2
            }
            return out
        }
    }
}
