import ArgumentParser

extension RunOptions {
    /// `--shard K/N` as (K, N) with 1 <= K <= N <= 64; nil without the option.
    func shardNumbers() throws -> (index: Int, count: Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), (1...64).contains(n), (1...n).contains(k) else {
            throw ValidationError("--shard must be K/N with 1 <= K <= N <= 64 (e.g. 1/2), got '\(shard)'")
        }
        return (k, n)
    }

    /// The variants shard K of N runs: positions K-1, K-1+N, … of the selection (repetitions
    /// stay with their variant), so interleaving the shards' results restores catalog order.
    func shardOf<T>(_ selected: [T]) throws -> [T] {
        guard let (k, n) = try shardNumbers() else { return selected }
        return selected.enumerated().filter { $0.offset % n == k - 1 }.map(\.element)
    }
}
