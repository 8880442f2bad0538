import Foundation
import Yams

/// China's statutory holidays and make-up working days (调休上班), year by year, as published
/// by the State Council: what `day:` conditions test (docs/dialplan.md, "The holiday calendar").
///
/// A day is a `holiday` if listed as one, a `makeupWorkday` if listed as one, else a `weekend`
/// on Saturday and Sunday, else a `workday`. Days of a year the calendar does not cover fall
/// back to plain weekdays and weekends; `covers(year:)` tells the caller, who reports it.
public struct HolidayCalendar: Sendable {
    /// One named holiday: consecutive days off, weekend days inside it included.
    public struct Holiday: Sendable, Hashable {
        public var name: String
        public var days: DateRange
        public init(name: String, days: DateRange) {
            self.name = name
            self.days = days
        }
    }

    /// One year's notice.
    public struct Year: Sendable, Hashable {
        public var holidays: [Holiday]
        /// Saturdays and Sundays that are working days because of a holiday.
        public var makeupWorkdays: [CalendarDay]
        public init(holidays: [Holiday], makeupWorkdays: [CalendarDay]) {
            self.holidays = holidays
            self.makeupWorkdays = makeupWorkdays
        }
    }

    /// The years as given, by year number.
    public let years: [Int: Year]
    /// Every holiday day → its holiday's name.
    private let holidayNames: [CalendarDay: String]
    private let makeupWorkdays: Set<CalendarDay>

    /// A calendar that covers no year: every day is a plain weekday or weekend day.
    public static let empty = HolidayCalendar(years: [:])

    /// Builds the calendar from years. When two holidays claim the same day, the earlier year
    /// and the earlier holiday in it win (`parse` rejects such files).
    public init(years: [Int: Year]) {
        self.years = years
        var names: [CalendarDay: String] = [:]
        var makeups: Set<CalendarDay> = []
        for yearNumber in years.keys.sorted() {
            let year = years[yearNumber]!
            for holiday in year.holidays {
                for day in holiday.days.days where names[day] == nil {
                    names[day] = holiday.name
                }
            }
            makeups.formUnion(year.makeupWorkdays)
        }
        self.holidayNames = names
        self.makeupWorkdays = makeups
    }

    /// Whether the calendar has the notice of `year`. Days of other years are still answered,
    /// as plain weekdays and weekends.
    public func covers(year: Int) -> Bool {
        years[year] != nil
    }

    /// The day's kind: holiday, make-up working day, weekend or workday, in that order.
    public func kind(of day: CalendarDay) -> DayKind {
        if holidayNames[day] != nil { return .holiday }
        if makeupWorkdays.contains(day) { return .makeupWorkday }
        return day.isoWeekday >= 6 ? .weekend : .workday
    }

    /// The name of the holiday the day belongs to (e.g. `春节`), nil if it is not a holiday.
    public func holidayName(of day: CalendarDay) -> String? {
        holidayNames[day]
    }

    /// Whether a `day:` condition naming `wanted` holds on `day`: `restday` is a holiday or a
    /// weekend day (not a make-up working day), `workday` also holds on a make-up working day,
    /// the other kinds hold exactly.
    public func holds(_ wanted: DayKind, on day: CalendarDay) -> Bool {
        let actual = kind(of: day)
        switch wanted {
        case .restday: return actual == .holiday || actual == .weekend
        case .workday: return actual == .workday || actual == .makeupWorkday
        case .holiday, .makeupWorkday, .weekend: return actual == wanted
        }
    }
}

// MARK: - Loading

/// Why a holiday calendar file could not be used.
public enum HolidayCalendarError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read at all.
    case unreadable(file: String, reason: String)
    /// The YAML or its content is wrong at a place in the file.
    case invalid(at: SourceLocation, message: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "\(file): error: cannot read the holiday calendar: \(reason)"
        case .invalid(let location, let message): "\(location): error: \(message)"
        }
    }
}

extension HolidayCalendar {
    /// Reads and checks a holiday calendar file (`Dialplans/holidays.yaml`). Error messages name
    /// the file as `path` is written.
    public static func load(path: String) throws(HolidayCalendarError) -> HolidayCalendar {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and checks a holiday calendar; `file` is the name used in error messages.
    ///
    /// The document maps years to `{holidays: [{name, days}], makeup-workdays: [days]}`, where
    /// `days` is `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`. Dates listed under a year must lie in
    /// it or in a neighbouring year (a notice may move a working day across New Year), a day
    /// may belong to one holiday only and not also be a make-up day, and make-up working days
    /// must be Saturdays or Sundays.
    public static func parse(yaml: String, file: String) throws(HolidayCalendarError) -> HolidayCalendar {
        try CalendarFileParser(file: file).parse(yaml)
    }
}

/// Yams' tree node (the dialplan model has its own `Node`).
// YAMLNode (Yams.Node) is declared in DialplanLoader.swift.

/// Turns the composed YAML tree into years, checking each element where it was written.
private struct CalendarFileParser {
    let file: String

    func parse(_ yaml: String) throws(HolidayCalendarError) -> HolidayCalendar {
        let root: YAMLNode?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error)
        } catch {
            throw .invalid(at: SourceLocation(file: file, line: 1, column: 1), message: "invalid YAML: \(error)")
        }
        guard let root else {
            throw .invalid(at: SourceLocation(file: file, line: 1, column: 1), message: "the holiday calendar is empty; expected years such as '2026:'")
        }
        guard let mapping = root.mapping else {
            throw invalid(root, "expected a mapping of years, e.g. '2026: {holidays: [...], makeup-workdays: [...]}'")
        }

        var years: [Int: HolidayCalendar.Year] = [:]
        var owners: [CalendarDay: (name: String, location: SourceLocation)] = [:]
        var makeups: [CalendarDay: SourceLocation] = [:]
        for (key, value) in mapping {
            guard let text = key.scalar?.string, text.count == 4, text.allSatisfy(\.isASCIIDigit), let number = Int(text) else {
                throw invalid(key, "a year must be four digits, e.g. 2026")
            }
            guard years[number] == nil else {
                throw invalid(key, "year \(number) is listed twice")
            }
            let year = try parseYear(number, value)
            for entry in year.holidays {
                for day in entry.holiday.days.days {
                    if let owner = owners[day] {
                        throw .invalid(at: entry.location, message: "\(day) is already part of \(owner.name) (\(owner.location))")
                    }
                    owners[day] = (entry.holiday.name, entry.location)
                }
            }
            for makeup in year.makeupWorkdays {
                if let earlier = makeups[makeup.day] {
                    throw .invalid(at: makeup.location, message: "make-up working day \(makeup.day) is listed twice (also at \(earlier))")
                }
                makeups[makeup.day] = makeup.location
            }
            years[number] = HolidayCalendar.Year(holidays: year.holidays.map(\.holiday), makeupWorkdays: year.makeupWorkdays.map(\.day))
        }
        for (day, location) in makeups.sorted(by: { $0.value < $1.value }) {
            if let owner = owners[day] {
                throw .invalid(at: location, message: "\(day) is both a make-up working day and part of \(owner.name) (\(owner.location))")
            }
        }
        return HolidayCalendar(years: years)
    }

    /// A year as written, each element with its place (for the cross-year checks above).
    private struct ParsedYear {
        var holidays: [(holiday: HolidayCalendar.Holiday, location: SourceLocation)] = []
        var makeupWorkdays: [(day: CalendarDay, location: SourceLocation)] = []
    }

    private func parseYear(_ number: Int, _ node: YAMLNode) throws(HolidayCalendarError) -> ParsedYear {
        guard let mapping = node.mapping else {
            throw invalid(node, "year \(number) must be a mapping with 'holidays' and 'makeup-workdays'")
        }
        let allowed = (number - 1)...(number + 1)
        var year = ParsedYear()
        var seen: Set<String> = []
        for (key, value) in mapping {
            if let text = key.scalar?.string, !seen.insert(text).inserted {
                throw invalid(key, "'\(text)' is given twice in year \(number)")
            }
            switch key.scalar?.string {
            case "holidays":
                guard let list = value.sequence else {
                    throw invalid(value, "'holidays' must be a list of {name, days}")
                }
                for item in list {
                    let holiday = try parseHoliday(item)
                    guard allowed.contains(holiday.days.first.year), allowed.contains(holiday.days.last.year) else {
                        throw invalid(item, "\(holiday.name) (\(holiday.days.first)..\(holiday.days.last)) is not in or next to \(number)")
                    }
                    year.holidays.append((holiday, location(of: item)))
                }
            case "makeup-workdays":
                guard let list = value.sequence else {
                    throw invalid(value, "'makeup-workdays' must be a list of dates (YYYY-MM-DD)")
                }
                for item in list {
                    guard let text = item.scalar?.string, let day = CalendarDay(parsing: text) else {
                        throw invalid(item, "'makeup-workdays' entries must be YYYY-MM-DD")
                    }
                    guard allowed.contains(day.year) else {
                        throw invalid(item, "make-up working day \(day) is not in or next to \(number)")
                    }
                    guard day.isoWeekday >= 6 else {
                        throw invalid(item, "make-up working day \(day) is a \(day.weekdayName); make-up working days are Saturdays or Sundays")
                    }
                    year.makeupWorkdays.append((day, location(of: item)))
                }
            default:
                throw invalid(key, "unknown key '\(key.scalar?.string ?? "?")' in year \(number); expected 'holidays' or 'makeup-workdays'")
            }
        }
        return year
    }

    private func parseHoliday(_ node: YAMLNode) throws(HolidayCalendarError) -> HolidayCalendar.Holiday {
        guard let mapping = node.mapping else {
            throw invalid(node, "a holiday must be a mapping {name, days}")
        }
        var name: String?
        var days: DateRange?
        var seen: Set<String> = []
        for (key, value) in mapping {
            if let text = key.scalar?.string, !seen.insert(text).inserted {
                throw invalid(key, "'\(text)' is given twice in a holiday")
            }
            switch key.scalar?.string {
            case "name":
                guard let text = value.scalar?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw invalid(value, "'name' must be a non-empty text")
                }
                name = text
            case "days":
                guard let text = value.scalar?.string, let range = DateRange(parsing: text) else {
                    throw invalid(value, "'days' must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
                }
                days = range
            default:
                throw invalid(key, "unknown key '\(key.scalar?.string ?? "?")' in a holiday; expected 'name' and 'days'")
            }
        }
        guard let name else { throw invalid(node, "a holiday needs a 'name'") }
        guard let days else { throw invalid(node, "holiday \(name) needs 'days'") }
        return HolidayCalendar.Holiday(name: name, days: days)
    }

    private func location(of node: YAMLNode) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    private func invalid(_ node: YAMLNode, _ message: String) -> HolidayCalendarError {
        .invalid(at: location(of: node), message: message)
    }

    /// Yams' marks are 1-based (libyaml's 0-based marks plus one), like `SourceLocation`.
    private func syntaxError(_ error: YamlError) -> HolidayCalendarError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at \($0.mark))" } ?? ""
            return .invalid(at: at(mark), message: "invalid YAML: \(problem)\(detail)")
        case .reader(let problem, _, _, _):
            return .invalid(at: SourceLocation(file: file, line: 1, column: 1), message: "invalid YAML: \(problem)")
        default:
            return .invalid(at: SourceLocation(file: file, line: 1, column: 1), message: "invalid YAML: \(error)")
        }
    }
}

// MARK: - Days

extension CalendarDay {
    /// The day of a moment in a time zone.
    public init(date: Date, timeZone: TimeZone) {
        let (days, _) = LocalClock.daysAndSeconds(of: date, in: timeZone)
        self.init(daysSinceEpoch: days)
    }

    /// Parses `YYYY-MM-DD` (exactly those digits, a real date).
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...CalendarDay.length(ofMonth: month, in: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Day of the week, ISO 8601: 1 = Monday … 7 = Sunday.
    public var isoWeekday: Int {
        // 1970-01-01 was a Thursday (4).
        let mondayBased = (daysSinceEpoch + 3) % 7
        return (mondayBased < 0 ? mondayBased + 7 : mondayBased) + 1
    }

    /// Days since 1970-01-01 (negative before), in the proleptic Gregorian calendar.
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil: count from a year starting in March, so that the
        // leap day is the last day of the (shifted) year.
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let monthFromMarch = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day `daysSinceEpoch` days after 1970-01-01.
    public init(daysSinceEpoch: Int) {
        // Howard Hinnant's civil_from_days, the inverse of `daysSinceEpoch`.
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// The day `count` days later (earlier if negative).
    public func adding(days count: Int) -> CalendarDay {
        CalendarDay(daysSinceEpoch: daysSinceEpoch + count)
    }

    /// English name of the weekday, for messages.
    public var weekdayName: String {
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][isoWeekday - 1]
    }

    private static func length(ofMonth month: Int, in year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension DateRange {
    /// Parses `YYYY-MM-DD` (one day) or `YYYY-MM-DD..YYYY-MM-DD` (inclusive, first ≤ last).
    public init?(parsing text: some StringProtocol) {
        let bounds = text.split(separator: "..", omittingEmptySubsequences: false)
        switch bounds.count {
        case 1:
            guard let day = CalendarDay(parsing: bounds[0]) else { return nil }
            self.init(first: day, last: day)
        case 2:
            guard let first = CalendarDay(parsing: bounds[0]), let last = CalendarDay(parsing: bounds[1]), first <= last else { return nil }
            self.init(first: first, last: last)
        default:
            return nil
        }
    }

    /// Every day of the range, in order (none if `last` is before `first`).
    public var days: [CalendarDay] {
        let first = first.daysSinceEpoch, last = last.daysSinceEpoch
        guard first <= last else { return [] }
        return (first...last).map(CalendarDay.init(daysSinceEpoch:))
    }
}

extension Date {
    /// Minutes since local midnight in `timeZone` (0…1439), as `time:` conditions compare.
    public func minuteOfDay(in timeZone: TimeZone) -> Int {
        LocalClock.daysAndSeconds(of: self, in: timeZone).seconds / 60
    }
}

/// Local wall-clock arithmetic on whole seconds.
private enum LocalClock {
    /// The local day (days since 1970-01-01) and the seconds since its midnight.
    static func daysAndSeconds(of date: Date, in timeZone: TimeZone) -> (days: Int, seconds: Int) {
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: date)
        let secondsPerDay = 86_400
        var days = local / secondsPerDay
        var seconds = local % secondsPerDay
        if seconds < 0 {
            days -= 1
            seconds += secondsPerDay
        }
        return (days, seconds)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension HolidayCalendarError {
    /// The error as the validator's diagnostics (`file:line:column: error: ...`).
    public var diagnostics: [Diagnostic] {
        switch self {
        case .unreadable(let file, let reason):
            return [.error("cannot read the holiday calendar: \(reason)", at: SourceLocation(file: file, line: 1, column: 1))]
        case .invalid(let location, let message):
            return [.error(message, at: location)]
        }
    }
}
