/// The built-in scenario files, embedded at build time from `catalog/*.json` by the
/// CatalogEmbedder plugin (`files` is generated), in file-name order.
public enum EmbeddedCatalog {
    public struct File: Sendable {
        /// The file name inside catalog/, e.g. "demand-paging.json".
        public var name: String
        public var text: String
    }
}
