/// What `harness check` found in one file: its test when it decodes, every error building a
/// variant (file, JSON path, variant and what failed), and what only a host decides.
public struct ScenarioCheck {
    /// nil when the file does not decode (`errors` says why).
    public var test: CatalogTest?
    public var errors: [ScenarioFileError]
    /// "FILE: $.variants[i]: variant 'NAME': not checked: REASON", one per variant a checked
    /// host cannot build (its run there would be a skip).
    public var notChecked: [String]
}
