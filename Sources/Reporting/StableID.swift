/// Names that survive lab result parsers. LAVA's `lava-test-case`, KernelCI and LKFT keep only
/// `[A-Za-z0-9_-]` in a test case name, so every machine format names a test by its stable id:
/// the catalog name with each other character replaced by `_`.
///
///     demand-paging/4k            -> demand-paging_4k
///     demand-paging/4k, repeat 2  -> demand-paging_4k-rep2
///
/// Catalog names are lower-case letters, digits and `-` around one `/`, so the id is unique and
/// reversible for them (the catalog tests check both); arbitrary text still gives a valid id.
public enum StableID {
    /// `name` with every character outside `[A-Za-z0-9_-]` replaced by `_`.
    public static func make(_ name: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(name.unicodeScalars.count)
        for s in name.unicodeScalars {
            out.unicodeScalars.append(isAllowed(s) ? s : "_")
        }
        return out.isEmpty ? "_" : out
    }

    /// The id of one result: the name's id, plus `-repN` for repetition N of `--repeat`.
    public static func make(_ name: String, repetition: Int?) -> String {
        make(name) + (repetition.map { "-rep\($0)" } ?? "")
    }

    /// Whether `s` is one of the characters lab parsers keep.
    public static func isAllowed(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }

    /// Whether `text` is already a stable id (non-empty, only allowed characters).
    public static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy(isAllowed)
    }
}
