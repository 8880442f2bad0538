import XCTest

@testable import RTP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock to NTP conversions (RFC 5905 §6) and the compact format RTCP echoes.
final class NTPTimestampTests: XCTestCase {
    func testUnixEpochAndAKnownDate() {
        XCTAssertEqual(NTPTimestamp(unixSeconds: 0), NTPTimestamp(seconds: 2_208_988_800, fraction: 0))
        // 2024-01-01T00:00:00Z is 1,704,067,200 s after 1970 and 3,913,056,000 s after 1900.
        XCTAssertEqual(NTPTimestamp(unixSeconds: 1_704_067_200.25), NTPTimestamp(seconds: 3_913_056_000, fraction: 0x4000_0000))
        XCTAssertEqual(NTPTimestamp(unixSeconds: 1_704_067_200, nanoseconds: 500_000_000),
                       NTPTimestamp(seconds: 3_913_056_000, fraction: 0x8000_0000))
        XCTAssertEqual(NTPTimestamp(unixSeconds: 1_704_067_200.75).unixSeconds, 1_704_067_200.75, accuracy: 1e-6)
    }

    func testTimespec() {
        let time = timespec(tv_sec: 1_704_067_200, tv_nsec: 250_000_000)
        XCTAssertEqual(NTPTimestamp(time), NTPTimestamp(seconds: 3_913_056_000, fraction: 0x4000_0000))
    }

    func testFieldsAndCompactForm() {
        let t = NTPTimestamp(rawValue: 0xE8A3_1B2C_8000_1234)
        XCTAssertEqual(t.seconds, 0xE8A3_1B2C)
        XCTAssertEqual(t.fraction, 0x8000_1234)
        XCTAssertEqual(t.compact, 0x1B2C_8000)
    }

    func testEra1WrapKeepsDifferences() {
        // 2036-02-07T06:28:16Z is the end of NTP era 0; one second before and after it.
        let before = NTPTimestamp(unixSeconds: 2_085_978_495)
        let after = NTPTimestamp(unixSeconds: 2_085_978_497)
        XCTAssertEqual(before.seconds, 0xFFFF_FFFF)
        XCTAssertEqual(after.seconds, 1)
        XCTAssertEqual(after.timeInterval(since: before), 2)
        XCTAssertEqual(before.timeInterval(since: after), -2)
        XCTAssertEqual(before.advanced(byNanoseconds: 2_000_000_000), after)
    }

    func testNonFiniteInputGivesZero() {
        XCTAssertEqual(NTPTimestamp(unixSeconds: .nan).rawValue, 0)
        XCTAssertEqual(NTPTimestamp(unixSeconds: .infinity).rawValue, 0)
    }

    func testClockFollowsMonotonicTime() {
        let origin = NTPTimestamp(unixSeconds: 1_704_067_200)
        let clock = NTPClock(wallClock: origin, monotonicNanoseconds: 5_000_000_000)
        XCTAssertEqual(clock.timestamp(monotonicNanoseconds: 5_000_000_000), origin)
        XCTAssertEqual(clock.timestamp(monotonicNanoseconds: 6_500_000_000), NTPTimestamp(unixSeconds: 1_704_067_201.5))
        XCTAssertEqual(clock.timestamp(monotonicNanoseconds: 4_000_000_000), NTPTimestamp(unixSeconds: 1_704_067_199))
        // Long calls: 10 hours later, to the nanosecond's worth of NTP units.
        let later = clock.timestamp(monotonicNanoseconds: 5_000_000_000 + 36_000_000_000_123)
        XCTAssertEqual(later.timeInterval(since: origin), 36_000.000_000_123, accuracy: 1e-9)
    }
}
