/// Deterministic pseudo-random numbers for `--seed N`.
///
/// Swift's `SystemRandomNumberGenerator` cannot be seeded, and the algorithms behind the
/// standard library's `random(in:using:)` / `shuffled(using:)` are not promised to stay the
/// same across Swift releases. A seed printed by one build must reproduce the same run in
/// another, so tests draw from `Xoshiro256StarStar` and use only the helpers below
/// (`next(below:)`, `shuffle`), whose algorithms are fixed here.

/// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014; constants as in Vigna's public-domain splitmix64.c): a 64-bit counter
/// advanced by the golden-ratio increment 0x9E3779B97F4A7C15 and finalised by a mix
/// function. Used to expand one seed into xoshiro's 256-bit state.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman, Vigna, "Scrambled linear pseudorandom number generators",
/// ACM TOMS 2021): 256-bit state, period 2^256 − 1, the authors' recommended all-purpose
/// 64-bit generator. Seeded, as the authors advise, from four SplitMix64 outputs.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// The state from four consecutive SplitMix64 outputs of `seed` (never all zero).
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        state = (sm.next(), sm.next(), sm.next(), sm.next())
    }

    /// A raw state; it must not be all zero (the one state xoshiro cannot leave).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256** state must not be all zero")
        self.state = state
    }

    public static func == (a: Self, b: Self) -> Bool { a.state == b.state }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Self.rotl(state.3, 45)
        return result
    }
}

extension RandomNumberGenerator {
    /// A uniform value in 0..<bound (bound > 0), without modulo bias: Lemire's multiply-shift
    /// method with rejection ("Fast random integer generation in an interval", ACM TOMACS
    /// 2019). Fixed here so a seed gives the same draws in every Swift version.
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "next(below:) needs a positive bound")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                m = next().multipliedFullWidth(by: bound)
            }
        }
        return m.high
    }

    /// Fisher–Yates shuffle drawing with `next(below:)` (deterministic for a given generator).
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = Int(next(below: UInt64(i + 1)))
            items.swapAt(i, j)
        }
    }
}

/// Seeds for a run and for each test in it.
public enum Seeds {
    /// A fresh seed for a run without `--seed` (from the system generator; printed so the run
    /// can be repeated).
    public static func fresh() -> UInt64 {
        var g = SystemRandomNumberGenerator()
        return g.next()
    }

    /// The generator for one test: depends only on the run seed, the test's name and its
    /// repetition, so `--filter`, `--test` or the order of tests do not change what a test
    /// draws. The name is hashed with 64-bit FNV-1a and mixed in through SplitMix64.
    public static func generator(runSeed: UInt64, test name: String, repetition: Int = 0) -> Xoshiro256StarStar {
        var sm = SplitMix64(seed: runSeed ^ fnv1a64(name))
        let derived = sm.next() ^ UInt64(truncatingIfNeeded: repetition)
        return Xoshiro256StarStar(seed: derived)
    }

    /// 64-bit FNV-1a over the UTF-8 bytes (offset basis 0xcbf29ce484222325, prime
    /// 0x100000001b3; Fowler, Noll, Vo — IETF draft-eastlake-fnv).
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}
