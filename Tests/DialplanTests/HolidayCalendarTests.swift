import Foundation
import XCTest
@testable import Dialplan

/// Shared by the calendar and condition tests.
enum HolidayFixtures {
    /// The repository's `Dialplans/holidays.yaml` (this file is `Tests/DialplanTests/…`).
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Dialplans/holidays.yaml").path

    static func day(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> CalendarDay {
        guard let day = CalendarDay(parsing: text) else {
            XCTFail("not a date: \(text)", file: file, line: line)
            return CalendarDay(year: 1970, month: 1, day: 1)
        }
        return day
    }
}

final class HolidayCalendarTests: XCTestCase {
    private func loadRealCalendar() throws -> HolidayCalendar {
        try HolidayCalendar.load(path: HolidayFixtures.path)
    }

    private func day(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> CalendarDay {
        HolidayFixtures.day(text, file: file, line: line)
    }

    private func assertParseError(
        _ yaml: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try HolidayCalendar.parse(yaml: yaml, file: "Dialplans/holidays.yaml")
            XCTFail("parsed", file: file, line: line)
        } catch {
            XCTAssertEqual(error.description, expected, file: file, line: line)
        }
    }

    // MARK: The published calendar

    func testTheFileCoversThePublishedYears() throws {
        let calendar = try loadRealCalendar()
        XCTAssertTrue(calendar.covers(year: 2025))
        XCTAssertTrue(calendar.covers(year: 2026))
        XCTAssertFalse(calendar.covers(year: 2024))
        XCTAssertEqual(calendar.years.keys.sorted().first, 2025)
    }

    func testKindsOfKnownDaysIn2026() throws {
        let calendar = try loadRealCalendar()
        let expected: [(String, DayKind, String?)] = [
            ("2026-01-01", .holiday, "元旦"),  // Thursday
            ("2026-01-03", .holiday, "元旦"),  // Saturday inside the holiday
            ("2026-01-04", .makeupWorkday, nil),  // Sunday
            ("2026-01-05", .workday, nil),
            ("2026-02-13", .workday, nil),  // Friday before the Spring Festival
            ("2026-02-14", .makeupWorkday, nil),  // Saturday
            ("2026-02-15", .holiday, "春节"),  // Sunday, 腊月二十八
            ("2026-02-16", .holiday, "春节"),  // Monday
            ("2026-02-23", .holiday, "春节"),  // Monday, 正月初七
            ("2026-02-24", .workday, nil),
            ("2026-02-28", .makeupWorkday, nil),  // Saturday
            ("2026-03-01", .weekend, nil),  // Sunday
            ("2026-04-06", .holiday, "清明节"),  // Monday
            ("2026-05-05", .holiday, "劳动节"),  // Tuesday
            ("2026-05-09", .makeupWorkday, nil),  // Saturday
            ("2026-05-10", .weekend, nil),
            ("2026-06-19", .holiday, "端午节"),  // Friday
            ("2026-09-20", .makeupWorkday, nil),  // Sunday
            ("2026-09-25", .holiday, "中秋节"),  // Friday
            ("2026-09-28", .workday, nil),  // Monday between 中秋 and 国庆
            ("2026-10-01", .holiday, "国庆节"),
            ("2026-10-07", .holiday, "国庆节"),  // Wednesday
            ("2026-10-08", .workday, nil),  // Thursday
            ("2026-10-10", .makeupWorkday, nil),  // Saturday
            ("2026-10-11", .weekend, nil),  // Sunday
            ("2026-12-25", .workday, nil),  // Friday
        ]
        for (text, kind, name) in expected {
            XCTAssertEqual(calendar.kind(of: day(text)), kind, text)
            XCTAssertEqual(calendar.holidayName(of: day(text)), name, text)
        }
    }

    func testKindsOfKnownDaysIn2025() throws {
        let calendar = try loadRealCalendar()
        XCTAssertEqual(calendar.kind(of: day("2025-01-01")), .holiday)
        XCTAssertEqual(calendar.kind(of: day("2025-01-26")), .makeupWorkday)
        XCTAssertEqual(calendar.kind(of: day("2025-01-28")), .holiday)  // 除夕
        XCTAssertEqual(calendar.kind(of: day("2025-02-08")), .makeupWorkday)
        XCTAssertEqual(calendar.kind(of: day("2025-04-27")), .makeupWorkday)
        XCTAssertEqual(calendar.kind(of: day("2025-06-02")), .holiday)
        XCTAssertEqual(calendar.kind(of: day("2025-10-08")), .holiday)  // 8 days: 国庆 with 中秋
        XCTAssertEqual(calendar.kind(of: day("2025-10-11")), .makeupWorkday)
        XCTAssertEqual(calendar.kind(of: day("2025-10-12")), .weekend)
    }

    func testNumbersOfDaysMatchTheNotices() throws {
        let calendar = try loadRealCalendar()
        func count(_ year: Int) -> [DayKind: Int] {
            let days = DateRange(first: CalendarDay(year: year, month: 1, day: 1), last: CalendarDay(year: year, month: 12, day: 31)).days
            return Dictionary(grouping: days, by: calendar.kind(of:)).mapValues(\.count)
        }
        // 2025: 1 + 8 + 3 + 5 + 3 + 8 holiday days, 5 make-up days.
        XCTAssertEqual(count(2025)[.holiday], 28)
        XCTAssertEqual(count(2025)[.makeupWorkday], 5)
        // 2026: 3 + 9 + 3 + 5 + 3 + 3 + 7 holiday days, 6 make-up days.
        XCTAssertEqual(count(2026)[.holiday], 33)
        XCTAssertEqual(count(2026)[.makeupWorkday], 6)
    }

    func testRestdayAndWorkday() throws {
        let calendar = try loadRealCalendar()
        let cases: [(String, holds: Set<DayKind>)] = [
            ("2026-02-16", [.holiday, .restday]),  // a holiday on a Monday
            ("2026-02-15", [.holiday, .restday]),  // a holiday on a Sunday
            ("2026-02-14", [.makeupWorkday, .workday]),  // Saturday worked
            ("2026-03-01", [.weekend, .restday]),
            ("2026-10-08", [.workday]),
        ]
        for (text, holds) in cases {
            for kind in DayKind.allCases {
                XCTAssertEqual(calendar.holds(kind, on: day(text)), holds.contains(kind), "\(text) \(kind)")
            }
        }
    }

    func testUncoveredYearFallsBackToWeekdaysAndWeekends() throws {
        let calendar = try loadRealCalendar()
        XCTAssertFalse(calendar.covers(year: 2030))
        XCTAssertEqual(calendar.kind(of: day("2030-01-01")), .workday)  // a Tuesday, though 元旦
        XCTAssertEqual(calendar.kind(of: day("2030-01-05")), .weekend)
        XCTAssertTrue(calendar.holds(.restday, on: day("2030-01-06")))
        XCTAssertFalse(calendar.holds(.holiday, on: day("2030-10-01")))
        XCTAssertNil(calendar.holidayName(of: day("2030-10-01")))

        XCTAssertEqual(HolidayCalendar.empty.kind(of: day("2026-02-16")), .workday)
        XCTAssertEqual(HolidayCalendar.empty.kind(of: day("2026-02-14")), .weekend)
    }

    func testBuiltInCode() {
        let calendar = HolidayCalendar(years: [
            2026: .init(
                holidays: [.init(name: "元旦", days: DateRange(first: day("2026-01-01"), last: day("2026-01-03")))],
                makeupWorkdays: [day("2026-01-04")])
        ])
        XCTAssertEqual(calendar.kind(of: day("2026-01-02")), .holiday)
        XCTAssertEqual(calendar.kind(of: day("2026-01-04")), .makeupWorkday)
        XCTAssertEqual(calendar.kind(of: day("2026-01-10")), .weekend)
        XCTAssertTrue(calendar.covers(year: 2026))
    }

    func testParsesTheDocumentedFormat() throws {
        let calendar = try HolidayCalendar.parse(
            yaml: """
                2026:
                  holidays:
                    - { name: 元旦, days: 2026-01-01..2026-01-03 }
                    - name: "春节"
                      days: "2026-02-15..2026-02-23"
                    - { name: 测试, days: 2026-03-02 }
                  makeup-workdays: [2026-01-04]
                2027:
                  makeup-workdays: []
                """, file: "h.yaml")
        XCTAssertEqual(calendar.years[2026]?.holidays.map(\.name), ["元旦", "春节", "测试"])
        XCTAssertEqual(calendar.years[2026]?.holidays[2].days, DateRange(first: day("2026-03-02"), last: day("2026-03-02")))
        XCTAssertEqual(calendar.years[2026]?.makeupWorkdays, [day("2026-01-04")])
        XCTAssertTrue(calendar.covers(year: 2027))
        XCTAssertEqual(calendar.kind(of: day("2026-02-20")), .holiday)
    }

    // MARK: Errors

    func testBadDays() {
        assertParseError(
            """
            2026:
              holidays:
                - name: 元旦
                  days: 2026-01-01...2026-01-03
            """,
            "Dialplans/holidays.yaml:4:13: error: 'days' must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        // Columns count characters: 元旦 is two.
        assertParseError(
            """
            2026:
              holidays:
                - { name: 元旦, days: 2026-01-03..2026-01-01 }
            """,
            "Dialplans/holidays.yaml:3:25: error: 'days' must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        assertParseError(
            """
            2026:
              holidays:
                - { name: x, days: 2026-02-30 }
            """,
            "Dialplans/holidays.yaml:3:24: error: 'days' must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        assertParseError(
            """
            2026:
              makeup-workdays: [2026-1-4]
            """,
            "Dialplans/holidays.yaml:2:21: error: 'makeup-workdays' entries must be YYYY-MM-DD")
    }

    func testBadStructure() {
        assertParseError("- 2026", "Dialplans/holidays.yaml:1:1: error: expected a mapping of years, e.g. '2026: {holidays: [...], makeup-workdays: [...]}'")
        assertParseError("", "Dialplans/holidays.yaml:1:1: error: the holiday calendar is empty; expected years such as '2026:'")
        assertParseError("26:\n  holidays: []", "Dialplans/holidays.yaml:1:1: error: a year must be four digits, e.g. 2026")
        assertParseError("2026: []", "Dialplans/holidays.yaml:1:7: error: year 2026 must be a mapping with 'holidays' and 'makeup-workdays'")
        assertParseError(
            "2026:\n  holiday: []",
            "Dialplans/holidays.yaml:2:3: error: unknown key 'holiday' in year 2026; expected 'holidays' or 'makeup-workdays'")
        assertParseError(
            "2026:\n  holidays: {name: x}",
            "Dialplans/holidays.yaml:2:13: error: 'holidays' must be a list of {name, days}")
        assertParseError(
            "2026:\n  holidays:\n    - {name: x, day: 2026-01-01}",
            "Dialplans/holidays.yaml:3:17: error: unknown key 'day' in a holiday; expected 'name' and 'days'")
        assertParseError(
            "2026:\n  holidays:\n    - {days: 2026-01-01}",
            "Dialplans/holidays.yaml:3:7: error: a holiday needs a 'name'")
        assertParseError(
            "2026:\n  holidays:\n    - {name: x}",
            "Dialplans/holidays.yaml:3:7: error: holiday x needs 'days'")
        assertParseError(
            "2026:\n  holidays: []\n2026:\n  holidays: []",
            "Dialplans/holidays.yaml:3:1: error: year 2026 is listed twice")
        assertParseError(
            "2026:\n  holidays: []\n  holidays: []",
            "Dialplans/holidays.yaml:3:3: error: 'holidays' is given twice in year 2026")
    }

    func testInconsistentDays() {
        assertParseError(
            "2026:\n  makeup-workdays: [2026-02-13]",
            "Dialplans/holidays.yaml:2:21: error: make-up working day 2026-02-13 is a Friday; make-up working days are Saturdays or Sundays")
        assertParseError(
            "2026:\n  makeup-workdays: [2062-01-04]",
            "Dialplans/holidays.yaml:2:21: error: make-up working day 2062-01-04 is not in or next to 2026")
        assertParseError(
            "2026:\n  holidays:\n    - {name: 元旦, days: 2062-01-01}",
            "Dialplans/holidays.yaml:3:7: error: 元旦 (2062-01-01..2062-01-01) is not in or next to 2026")
        assertParseError(
            """
            2026:
              holidays:
                - { name: 春节, days: 2026-02-15..2026-02-23 }
                - { name: 又一个, days: 2026-02-23..2026-02-24 }
            """,
            "Dialplans/holidays.yaml:4:7: error: 2026-02-23 is already part of 春节 (Dialplans/holidays.yaml:3:7)")
        assertParseError(
            """
            2026:
              holidays:
                - { name: 春节, days: 2026-02-14..2026-02-23 }
              makeup-workdays: [2026-02-14]
            """,
            "Dialplans/holidays.yaml:4:21: error: 2026-02-14 is both a make-up working day and part of 春节 (Dialplans/holidays.yaml:3:7)")
    }

    func testYAMLSyntaxErrorsKeepTheirPlace() {
        assertParseError(
            "2026:\n  makeup-workdays: [2026-01-04\n",
            "Dialplans/holidays.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at 2:20)")
        assertParseError(
            "2026:\n  holidays: []\n   makeup-workdays: []",
            "Dialplans/holidays.yaml:3:4: error: invalid YAML: did not find expected key (while parsing a block mapping at 2:3)")
        assertParseError(
            "2026:\n  holidays: a: b",
            "Dialplans/holidays.yaml:2:14: error: invalid YAML: mapping values are not allowed in this context")
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try HolidayCalendar.load(path: "/nonexistent/holidays.yaml")) { error in
            guard case .unreadable(let file, _) = error as? HolidayCalendarError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, "/nonexistent/holidays.yaml")
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/holidays.yaml: error: cannot read the holiday calendar: "))
        }
    }

    // MARK: Days

    func testParsingDays() {
        XCTAssertEqual(CalendarDay(parsing: "2024-02-29"), CalendarDay(year: 2024, month: 2, day: 29))
        for bad in ["2025-02-29", "2100-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-4-03", "26-04-03", "2026-04-03 ", "２０２６-04-03", ""] {
            XCTAssertNil(CalendarDay(parsing: bad), bad)
        }
        XCTAssertEqual(DateRange(parsing: "2026-01-01..2026-01-03"), DateRange(first: day("2026-01-01"), last: day("2026-01-03")))
        XCTAssertEqual(DateRange(parsing: "2026-01-01"), DateRange(first: day("2026-01-01"), last: day("2026-01-01")))
        for bad in ["2026-01-03..2026-01-01", "2026-01-01..", "..2026-01-01", "2026-01-01..2026-01-02..2026-01-03", "2026-01-01-2026-01-03"] {
            XCTAssertNil(DateRange(parsing: bad), bad)
        }
    }

    func testWeekdays() {
        XCTAssertEqual(day("1970-01-01").isoWeekday, 4)
        XCTAssertEqual(day("1969-12-28").isoWeekday, 7)
        XCTAssertEqual(day("2000-02-29").isoWeekday, 2)
        XCTAssertEqual(day("2026-02-14").isoWeekday, 6)
        XCTAssertEqual(day("2026-02-16").isoWeekday, 1)
        XCTAssertEqual(day("2026-10-08").isoWeekday, 4)
        XCTAssertEqual(day("2026-10-08").weekdayName, "Thursday")
    }

    func testDayNumbersAgreeWithFoundation() {
        // Foundation switches to the Julian calendar before 1582; `CalendarDay` is proleptic Gregorian.
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = TimeZone(identifier: "UTC")!
        for number in stride(from: -140_000, through: 800_000, by: 997) {
            let date = Date(timeIntervalSince1970: Double(number) * 86_400)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: date)
            let computed = CalendarDay(daysSinceEpoch: number)
            XCTAssertEqual(computed, CalendarDay(year: parts.year!, month: parts.month!, day: parts.day!), "\(number)")
            XCTAssertEqual(computed.daysSinceEpoch, number)
            XCTAssertEqual(computed.isoWeekday, (parts.weekday! + 5) % 7 + 1, "\(number)")
        }
        XCTAssertEqual(day("2026-02-28").adding(days: 1), day("2026-03-01"))
        XCTAssertEqual(day("2024-03-01").adding(days: -1), day("2024-02-29"))
        XCTAssertEqual(day("2026-12-31").adding(days: 1), day("2027-01-01"))
    }

    func testLocalDayAndMinute() {
        let shanghai = TimeZone(identifier: "Asia/Shanghai")!
        let utc = TimeZone(identifier: "UTC")!
        // 2026-02-15T16:30:00Z is 00:30 on Monday 16 February in Shanghai.
        let moment = Date(timeIntervalSince1970: 1_771_173_000)
        XCTAssertEqual(CalendarDay(date: moment, timeZone: shanghai), day("2026-02-16"))
        XCTAssertEqual(CalendarDay(date: moment, timeZone: utc), day("2026-02-15"))
        XCTAssertEqual(moment.minuteOfDay(in: shanghai), 30)
        XCTAssertEqual(moment.minuteOfDay(in: utc), 16 * 60 + 30)
        // Before 1970 the day still starts at midnight.
        let early = Date(timeIntervalSince1970: -1)
        XCTAssertEqual(CalendarDay(date: early, timeZone: utc), day("1969-12-31"))
        XCTAssertEqual(early.minuteOfDay(in: utc), 1439)
        // Daylight saving time: 2026-07-01T12:00Z is 08:00 in New York (UTC-4).
        let summer = Date(timeIntervalSince1970: 1_782_907_200)
        XCTAssertEqual(summer.minuteOfDay(in: TimeZone(identifier: "America/New_York")!), 8 * 60)
    }
}
