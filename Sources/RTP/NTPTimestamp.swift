// NTP timestamps (RFC 5905 §6) as RTCP uses them (RFC 3550 §4, §6.4.1).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A 64-bit NTP timestamp: seconds since 1900-01-01 00:00 UTC in the high 32 bits, the
/// fraction of a second in the low 32 bits (units of 2^-32 s).
///
/// The seconds field wraps in February 2036 (the start of NTP era 1); all arithmetic here is
/// modular, so differences between two timestamps less than 68 years apart stay correct
/// across the wrap.
public struct NTPTimestamp: Sendable, Hashable {
    /// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
    public static let unixEpochOffset: UInt64 = 2_208_988_800
    /// NTP units (2^-32 s) per second.
    static let unitsPerSecond: Double = 4_294_967_296

    public var rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public init(seconds: UInt32, fraction: UInt32) {
        rawValue = UInt64(seconds) << 32 | UInt64(fraction)
    }

    /// The wall-clock time `unixSeconds` after 1970-01-01 00:00 UTC (e.g. from
    /// `clock_gettime(CLOCK_REALTIME)` or `Date().timeIntervalSince1970`). A value that is not
    /// finite gives timestamp 0, which RTCP treats as "no time".
    public init(unixSeconds: Double) {
        guard unixSeconds.isFinite else {
            rawValue = 0
            return
        }
        let whole = unixSeconds.rounded(.down)
        // Clamped only to keep the conversion to Int64 defined; real clocks are far inside.
        let seconds = Int64(max(-1e18, min(1e18, whole)))
        let fraction = min(UInt64((unixSeconds - whole) * Self.unitsPerSecond), 0xFFFF_FFFF)
        rawValue = UInt64(truncatingIfNeeded: seconds &+ Int64(Self.unixEpochOffset)) << 32 | fraction
    }

    /// The wall-clock time `unixSeconds` + `nanoseconds` (a `timespec`'s two fields).
    public init(unixSeconds: Int64, nanoseconds: Int64) {
        let units = NTPTimestamp.units(nanoseconds: nanoseconds)
        rawValue = UInt64(truncatingIfNeeded: unixSeconds &+ Int64(Self.unixEpochOffset)) << 32
        rawValue = rawValue &+ UInt64(bitPattern: units)
    }

    #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
    /// The wall-clock time in `time` (from `clock_gettime(CLOCK_REALTIME, &time)`).
    public init(_ time: timespec) {
        self.init(unixSeconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
    #endif

    /// Whole seconds since 1900 (modulo 2^32).
    public var seconds: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }

    /// Fraction of the second, in units of 2^-32 s.
    public var fraction: UInt32 { UInt32(truncatingIfNeeded: rawValue) }

    /// The middle 32 bits: seconds and fraction as 16.16 fixed point (units of 1/65,536 s).
    /// This is what an RTCP report block echoes as LSR (RFC 3550 §6.4.1).
    public var compact: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 16) }

    /// Seconds since 1970, assuming NTP era 0 (before 2036); for logs and tests.
    public var unixSeconds: Double {
        Double(Int64(seconds) - Int64(Self.unixEpochOffset)) + Double(fraction) / Self.unitsPerSecond
    }

    /// The timestamp `nanoseconds` later (earlier if negative).
    public func advanced(byNanoseconds nanoseconds: Int64) -> NTPTimestamp {
        NTPTimestamp(rawValue: rawValue &+ UInt64(bitPattern: Self.units(nanoseconds: nanoseconds)))
    }

    /// Seconds from `earlier` to this timestamp; negative if `earlier` is in fact later.
    public func timeInterval(since earlier: NTPTimestamp) -> Double {
        Double(units(since: earlier)) / Self.unitsPerSecond
    }

    /// NTP units (2^-32 s) from `earlier` to this timestamp, signed (modular difference).
    func units(since earlier: NTPTimestamp) -> Int64 {
        Int64(bitPattern: rawValue &- earlier.rawValue)
    }

    /// `nanoseconds` in NTP units (2^-32 s), rounded towards zero; wraps past ±68 years.
    static func units(nanoseconds: Int64) -> Int64 {
        let seconds = nanoseconds / 1_000_000_000
        let rest = nanoseconds % 1_000_000_000   // |rest| < 2^30, so rest << 32 fits
        return seconds &<< 32 &+ (rest << 32) / 1_000_000_000
    }
}

/// NTP timestamps from a monotonic clock: the wall clock is read once, at `init`, and later
/// times are that reading plus monotonic elapsed time.
///
/// RTCP computes round-trip times and report delays from differences of these timestamps
/// (RFC 3550 §6.4.1), so they must not jump when the system clock is stepped; a clock built
/// this way only drifts. Pure: the caller reads both clocks and passes the values.
public struct NTPClock: Sendable, Equatable {
    public let origin: NTPTimestamp
    public let originMonotonicNanoseconds: UInt64

    /// `wallClock` and `monotonicNanoseconds` must be read at (nearly) the same moment, e.g.
    /// `CLOCK_REALTIME` and `CLOCK_MONOTONIC` (or `NIODeadline.now().uptimeNanoseconds`).
    public init(wallClock: NTPTimestamp, monotonicNanoseconds: UInt64) {
        origin = wallClock
        originMonotonicNanoseconds = monotonicNanoseconds
    }

    /// The NTP time at monotonic reading `monotonicNanoseconds` (may precede the origin).
    public func timestamp(monotonicNanoseconds: UInt64) -> NTPTimestamp {
        origin.advanced(byNanoseconds: Int64(bitPattern: monotonicNanoseconds &- originMonotonicNanoseconds))
    }
}
