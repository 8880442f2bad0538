/// The one id that follows a call across all its legs (ARCHITECTURE.md: "one call id").
/// Distinct from SIP's Call-ID, which names a single dialog.
public struct CallIdentifier: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A new random identifier: 128 random bits as 32 lowercase hex digits.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> CallIdentifier {
        let hi = UInt64.random(in: .min ... .max, using: &generator)
        let lo = UInt64.random(in: .min ... .max, using: &generator)
        return CallIdentifier(rawValue: hex(hi) + hex(lo))
    }

    public static func random() -> CallIdentifier {
        var g = SystemRandomNumberGenerator()
        return random(using: &g)
    }

    public var description: String { rawValue }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
