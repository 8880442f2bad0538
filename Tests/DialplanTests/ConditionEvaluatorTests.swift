import Foundation
import XCTest
@testable import Dialplan

final class ConditionEvaluatorTests: XCTestCase {
    private let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    private let utc = TimeZone(identifier: "UTC")!
    private let here = SourceLocation(file: "Dialplans/12345.yaml", line: 1, column: 1)

    /// 2026-02-16T02:30:00Z: 10:30 on Monday 16 February (春节) in Shanghai, 02:30 in UTC.
    private let springFestivalMorning = Date(timeIntervalSince1970: 1_771_209_000)
    /// 2026-02-15T23:59:00Z: 07:59 on Monday 16 February in Shanghai, 23:59 on Sunday in UTC.
    private let sundayMidnightUTC = Date(timeIntervalSince1970: 1_771_199_940)
    /// 2026-02-16T00:00:00Z.
    private let mondayMidnightUTC = Date(timeIntervalSince1970: 1_771_200_000)

    private var calendar: HolidayCalendar!

    override func setUpWithError() throws {
        calendar = try HolidayCalendar.load(path: HolidayFixtures.path)
    }

    private func context(
        _ now: Date, _ timeZone: TimeZone? = nil, calendar: HolidayCalendar? = nil, caller: String = "13800138000", called: String = "12345",
        lists: [String: CallerList] = [:], variables: [String: String] = [:]
    ) -> ConditionContext {
        ConditionContext(
            now: now, timeZone: timeZone ?? shanghai, calendar: calendar ?? self.calendar, caller: caller, called: called,
            lists: lists, variables: variables)
    }

    private func holds(_ test: Condition.Test, _ context: ConditionContext) -> Bool {
        ConditionEvaluator.holds(Condition(test, at: here), in: context)
    }

    private func range(_ start: String, _ end: String) -> TimeRange {
        func minutes(_ text: String) -> Int {
            let parts = text.split(separator: ":").map { Int($0)! }
            return parts[0] * 60 + parts[1]
        }
        return TimeRange(start: minutes(start), end: minutes(end))
    }

    private func located(_ text: String) -> Located<String> {
        Located(text, at: here)
    }

    private func compare(_ name: String, _ comparison: Comparison, _ value: String, _ variables: [String: String]) -> Bool {
        holds(.variable(name: located(name), comparison: comparison, value: value), context(springFestivalMorning, variables: variables))
    }

    // MARK: time

    func testTimeIsLocalToTheZone() {
        let office = Condition.Test.time([range("08:00", "12:00"), range("13:30", "18:00")])
        XCTAssertTrue(holds(office, context(springFestivalMorning, shanghai)))
        XCTAssertFalse(holds(office, context(springFestivalMorning, utc)))

        let night = Condition.Test.time([range("22:00", "06:00")])
        XCTAssertFalse(holds(night, context(springFestivalMorning, shanghai)))
        XCTAssertTrue(holds(night, context(springFestivalMorning, utc)))
        XCTAssertTrue(holds(night, context(sundayMidnightUTC, utc)))
        XCTAssertFalse(holds(night, context(sundayMidnightUTC, shanghai)))  // 07:59
    }

    func testTimeRangeStartIsIncludedEndExcluded() {
        XCTAssertTrue(holds(.time([range("10:30", "11:00")]), context(springFestivalMorning)))
        XCTAssertFalse(holds(.time([range("09:00", "10:30")]), context(springFestivalMorning)))
        XCTAssertTrue(holds(.time([range("00:00", "08:00")]), context(sundayMidnightUTC)))  // 07:59
        XCTAssertFalse(holds(.time([range("08:00", "12:00")]), context(sundayMidnightUTC)))
    }

    func testTwentyFourHundredIsTheEndOfTheDay() {
        let evening = Condition.Test.time([range("18:00", "24:00")])
        XCTAssertTrue(holds(evening, context(sundayMidnightUTC, utc)))  // 23:59
        XCTAssertFalse(holds(evening, context(mondayMidnightUTC, utc)))  // 00:00 is the next day's start
        XCTAssertTrue(holds(.time([range("00:00", "24:00")]), context(mondayMidnightUTC, utc)))
        XCTAssertTrue(holds(.time([range("00:00", "24:00")]), context(sundayMidnightUTC, utc)))
        let lateEvening = Condition.Test.time([range("22:00", "00:00")])  // wraps to midnight
        XCTAssertTrue(holds(lateEvening, context(sundayMidnightUTC, utc)))
        XCTAssertFalse(holds(lateEvening, context(mondayMidnightUTC, utc)))
    }

    // MARK: weekday, day, date

    func testWeekdayIsLocal() {
        XCTAssertTrue(holds(.weekday([1]), context(sundayMidnightUTC, shanghai)))
        XCTAssertFalse(holds(.weekday([7]), context(sundayMidnightUTC, shanghai)))
        XCTAssertTrue(holds(.weekday([7]), context(sundayMidnightUTC, utc)))
        XCTAssertTrue(holds(.weekday(Set(1...5)), context(springFestivalMorning)))
        XCTAssertFalse(holds(.weekday([6, 7]), context(springFestivalMorning)))
    }

    func testDayKinds() {
        // Monday 16 February 2026 is in the Spring Festival holiday.
        XCTAssertTrue(holds(.day([.holiday]), context(springFestivalMorning)))
        XCTAssertTrue(holds(.day([.restday]), context(springFestivalMorning)))
        XCTAssertFalse(holds(.day([.workday]), context(springFestivalMorning)))
        XCTAssertTrue(holds(.day([.workday, .holiday]), context(springFestivalMorning)))
        // Without the calendar it is a plain Monday.
        XCTAssertTrue(holds(.day([.workday]), context(springFestivalMorning, calendar: .empty)))
        XCTAssertFalse(holds(.day([.holiday, .restday]), context(springFestivalMorning, calendar: .empty)))
        // The local date decides: Sunday 15 February in UTC is already in the holiday too.
        XCTAssertTrue(holds(.day([.holiday]), context(sundayMidnightUTC, utc)))

        // Saturday 14 February 2026 (02:00 in Shanghai) is a make-up working day.
        let makeupSaturday = Date(timeIntervalSince1970: 1_771_005_600)
        XCTAssertEqual(CalendarDay(date: makeupSaturday, timeZone: shanghai), HolidayFixtures.day("2026-02-14"))
        XCTAssertTrue(holds(.day([.workday]), context(makeupSaturday)))
        XCTAssertTrue(holds(.day([.makeupWorkday]), context(makeupSaturday)))
        XCTAssertFalse(holds(.day([.restday]), context(makeupSaturday)))
        XCTAssertFalse(holds(.day([.weekend]), context(makeupSaturday)))
        XCTAssertTrue(holds(.weekday([6]), context(makeupSaturday)))
    }

    func testDates() {
        let festival = DateRange(parsing: "2026-02-15..2026-02-23")!
        XCTAssertTrue(holds(.date([festival]), context(springFestivalMorning)))
        XCTAssertTrue(holds(.date([DateRange(parsing: "2026-02-16")!]), context(sundayMidnightUTC, shanghai)))
        XCTAssertFalse(holds(.date([DateRange(parsing: "2026-02-16")!]), context(sundayMidnightUTC, utc)))
        XCTAssertTrue(holds(.date([DateRange(parsing: "2026-01-01")!, DateRange(parsing: "2026-02-15")!]), context(sundayMidnightUTC, utc)))
        XCTAssertFalse(holds(.date([DateRange(parsing: "2026-02-17..2026-12-31")!]), context(springFestivalMorning)))
    }

    // MARK: numbers

    func testCallerAndCalledMatchWhole() {
        let vip = Condition.Test.caller(located("1380013\\d{4}"))
        XCTAssertTrue(holds(vip, context(springFestivalMorning, caller: "13800131234")))
        XCTAssertFalse(holds(vip, context(springFestivalMorning, caller: "138001312345")))
        XCTAssertFalse(holds(vip, context(springFestivalMorning, caller: "013800131234")))
        XCTAssertFalse(holds(vip, context(springFestivalMorning, caller: "+8613800131234")))
        XCTAssertFalse(holds(vip, context(springFestivalMorning, caller: "")))
        // An alternation must still match whole, not just its first branch.
        XCTAssertTrue(holds(.caller(located("1|12")), context(springFestivalMorning, caller: "12")))
        XCTAssertTrue(holds(.caller(located("^(\\+86)?1[3-9]\\d{9}$")), context(springFestivalMorning, caller: "+8613800138000")))
        XCTAssertTrue(holds(.caller(located("")), context(springFestivalMorning, caller: "")))
        XCTAssertTrue(holds(.called(located("123(45|46)")), context(springFestivalMorning, called: "12345")))
        XCTAssertFalse(holds(.called(located("1234")), context(springFestivalMorning, called: "12345")))
    }

    func testInvalidRegularExpressionsNeverHold() {
        for pattern in ["(", "1380013\\d{4", "a)|(b", "\\", "[z-a]"] {
            XCTAssertFalse(holds(.caller(located(pattern)), context(springFestivalMorning, caller: "a)|(b")), pattern)
        }
        // Valid alone, but they would swallow the closing anchor: refused rather than unanchored.
        for pattern in ["(?x)1 # one", "\\Q1"] {
            XCTAssertFalse(holds(.caller(located(pattern)), context(springFestivalMorning, caller: "1")), pattern)
        }
        XCTAssertTrue(holds(.caller(located("(?i)sip:ABC")), context(springFestivalMorning, caller: "SIP:abc")))
    }

    func testCallerLists() {
        let lists = ["elderly": CallerList(numbers: ["13800000000", "01012345678"], location: here)]
        func inList(_ caller: String, _ list: String = "elderly") -> Bool {
            holds(.callerIn(located(list)), context(springFestivalMorning, caller: caller, lists: lists))
        }
        XCTAssertTrue(inList("13800000000"))
        XCTAssertTrue(inList("+8613800000000"))
        XCTAssertTrue(inList("008613800000000"))
        XCTAssertTrue(inList("+861012345678"))  // a Beijing landline, 010 at home
        XCTAssertTrue(inList("01012345678"))
        XCTAssertFalse(inList("13800000001"))
        XCTAssertFalse(inList("+86"))
        XCTAssertFalse(inList("+4413800000000"))
        XCTAssertFalse(inList("13800000000", "vip"))  // no such list
    }

    // MARK: variables

    func testEqualityComparesTextOrNumbers() {
        XCTAssertTrue(compare("language", .equal, "zh-CN", ["language": "zh-CN"]))
        XCTAssertFalse(compare("language", .equal, "zh-cn", ["language": "zh-CN"]))
        XCTAssertTrue(compare("language", .notEqual, "en-US", ["language": "zh-CN"]))
        XCTAssertTrue(compare("digits", .equal, "7", ["digits": "007"]))
        XCTAssertTrue(compare("price", .equal, "1.5", ["price": "1.50"]))
        XCTAssertTrue(compare("zero", .equal, "0", ["zero": "-0.0"]))
        XCTAssertFalse(compare("digits", .notEqual, "7", ["digits": "007"]))
        XCTAssertFalse(compare("digits", .equal, "7", ["digits": "7a"]))
        // 18-digit numbers are compared exactly (they differ beyond a Double's precision).
        XCTAssertFalse(compare("id", .equal, "110101199003077777", ["id": "110101199003077778"]))
        XCTAssertTrue(compare("id", .equal, "110101199003077777", ["id": "110101199003077777"]))
        // An unset variable is the empty string.
        XCTAssertTrue(compare("missing", .equal, "", [:]))
        XCTAssertFalse(compare("missing", .notEqual, "", [:]))
    }

    func testOrderingNeedsNumbers() {
        XCTAssertTrue(compare("repeat.day", .greaterOrEqual, "2", ["repeat.day": "2"]))
        XCTAssertTrue(compare("repeat.day", .greater, "9", ["repeat.day": "10"]))  // "10" < "9" as text
        XCTAssertFalse(compare("repeat.day", .less, "9", ["repeat.day": "10"]))
        XCTAssertTrue(compare("repeat.day", .lessOrEqual, "10", ["repeat.day": "10.0"]))
        XCTAssertTrue(compare("t", .less, "0", ["t": "-1.5"]))
        XCTAssertTrue(compare("t", .less, "-1", ["t": "-1.5"]))
        XCTAssertFalse(compare("t", .less, "-2", ["t": "-1.5"]))
        XCTAssertTrue(compare("t", .less, "0.45", ["t": "0.4"]))
        XCTAssertTrue(compare("t", .greater, "0.45", ["t": "0.5"]))
        XCTAssertTrue(compare("t", .greater, "99999999999999999999", ["t": "100000000000000000000"]))
        // Not numbers: never ordered.
        XCTAssertFalse(compare("name", .less, "abd", ["name": "abc"]))
        XCTAssertFalse(compare("name", .greaterOrEqual, "abc", ["name": "abc"]))
        XCTAssertFalse(compare("repeat.day", .greaterOrEqual, "2", [:]))
        XCTAssertFalse(compare("repeat.day", .lessOrEqual, "2", [:]))
        for notANumber in ["inf", "nan", "1e3", "0x10", "1.", ".5", "1,000", "+", "١٢"] {
            XCTAssertFalse(compare("n", .greater, "-1", ["n": notANumber]), notANumber)
        }
    }

    func testRegularExpressionComparison() {
        XCTAssertTrue(compare("ticket", .matches, "[0-9]{6,12}", ["ticket": "123456"]))
        XCTAssertFalse(compare("ticket", .matches, "[0-9]{6,12}", ["ticket": "123456#"]))
        XCTAssertFalse(compare("ticket", .matches, "[0-9", ["ticket": "1"]))
        XCTAssertTrue(compare("ticket", .matches, "", [:]))
    }

    func testComparedValuesAreTemplates() {
        let variables = ["digits": "42", "expected": "42", "limit": "3", "repeat.day": "5"]
        XCTAssertTrue(compare("digits", .equal, "${expected}", variables))
        XCTAssertTrue(compare("repeat.day", .greater, "${limit}", variables))
        XCTAssertFalse(compare("repeat.day", .greater, "${unset}", variables))
        XCTAssertTrue(compare("price", .equal, "$$5", ["price": "$5"]))
        // `caller` and `called` are variables too.
        XCTAssertTrue(compare("last-caller", .equal, "${caller}", ["last-caller": "13800138000"]))
        XCTAssertTrue(compare("caller", .matches, "138\\d{8}", [:]))
        XCTAssertTrue(compare("caller", .equal, "x", ["caller": "x"]))  // given variables win
    }

    // MARK: branches

    func testBranchNeedsAllConditions() {
        let office = Condition(.time([range("08:00", "12:00")]), at: here)
        let workday = Condition(.day([.workday]), at: here)
        let target = located("office-hours")
        let both = When.Branch(conditions: [office, workday], target: target, location: here)
        XCTAssertFalse(ConditionEvaluator.holds(both, in: context(springFestivalMorning)))  // a holiday
        XCTAssertTrue(ConditionEvaluator.holds(both, in: context(springFestivalMorning, calendar: .empty)))
        let always = When.Branch(conditions: [], target: target, location: here)
        XCTAssertTrue(ConditionEvaluator.holds(always, in: context(springFestivalMorning)))
    }
}
