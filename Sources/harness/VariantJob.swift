import Runtime
import TestCatalog

/// One run of one selected variant (a repetition under `--repeat`), in catalog order.
struct VariantJob: Sendable {
    var selected: Catalog.Selected
    /// 1-based repetition, nil when each variant runs once.
    var repetition: Int?
    /// The seed the variant draws from (derived from the run's seed, its name and repetition).
    var seed: UInt64
    /// The watchdog timeout from its budget (`TimeoutPolicy`).
    var timeoutSeconds: Double

    var name: String { selected.name }
}
