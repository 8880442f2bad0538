import Foundation

/// What `when` conditions are evaluated against: the moment, the dialplan's time zone and
/// lists, the holiday calendar and the call's variables.
public struct ConditionContext: Sendable {
    /// The moment the condition is evaluated.
    public var now: Date
    /// The zone of `time`, `weekday`, `day` and `date` (the dialplan's `timezone`).
    public var timeZone: TimeZone
    public var calendar: HolidayCalendar
    /// The caller's number, the dialled number.
    public var caller: String
    public var called: String
    /// The dialplan's caller lists (`caller-in:`).
    public var lists: [String: CallerList]
    /// The call's variables (`vars:` conditions and `${...}` in compared values).
    public var variables: [String: String]

    public init(
        now: Date, timeZone: TimeZone, calendar: HolidayCalendar, caller: String, called: String,
        lists: [String: CallerList] = [:], variables: [String: String] = [:]
    ) {
        self.now = now
        self.timeZone = timeZone
        self.calendar = calendar
        self.caller = caller
        self.called = called
        self.lists = lists
        self.variables = variables
    }

    /// A variable's value; `caller` and `called` are built in when `variables` lacks them.
    public func variable(_ name: String) -> String? {
        if let value = variables[name] { return value }
        switch name {
        case "caller": return caller
        case "called": return called
        default: return nil
        }
    }

    /// The local date in `timeZone`.
    public var today: CalendarDay { CalendarDay(date: now, timeZone: timeZone) }
}

/// Decides whether `when` conditions hold (docs/dialplan.md, "`when`").
public enum ConditionEvaluator {
    /// Whether every condition of the branch holds (a branch without conditions always does).
    public static func holds(_ branch: When.Branch, in context: ConditionContext) -> Bool {
        branch.conditions.allSatisfy { holds($0, in: context) }
    }

    /// Whether one condition holds.
    public static func holds(_ condition: Condition, in context: ConditionContext) -> Bool {
        switch condition.test {
        case .time(let ranges):
            let minute = context.now.minuteOfDay(in: context.timeZone)
            return ranges.contains { $0.contains(minute: minute) }
        case .weekday(let weekdays):
            return weekdays.contains(context.today.isoWeekday)
        case .day(let kinds):
            let today = context.today
            return kinds.contains { context.calendar.holds($0, on: today) }
        case .date(let ranges):
            let today = context.today
            return ranges.contains { $0.contains(today) }
        case .caller(let pattern):
            return wholeMatch(context.caller, pattern.value)
        case .called(let pattern):
            return wholeMatch(context.called, pattern.value)
        case .callerIn(let list):
            guard let numbers = context.lists[list.value]?.numbers else { return false }
            return callerForms(context.caller).contains { numbers.contains($0) }
        case .variable(let name, let comparison, let value):
            let actual = context.variable(name.value) ?? ""
            let expected = Template.expand(value, context.variable)
            return compare(actual, comparison, expected)
        }
    }

    /// `actual op expected`: `==`/`!=` compare numerically when both sides are decimal numbers
    /// (`007 == 7`), as text otherwise; `<`, `<=`, `>`, `>=` need two numbers (else false);
    /// `~` is a regular expression `actual` must match whole.
    public static func compare(_ actual: String, _ comparison: Comparison, _ expected: String) -> Bool {
        let numbers: (DecimalNumber, DecimalNumber)? =
            if let a = DecimalNumber(actual), let b = DecimalNumber(expected) { (a, b) } else { nil }
        switch comparison {
        case .equal: return numbers.map { $0 == $1 } ?? (actual == expected)
        case .notEqual: return numbers.map { $0 != $1 } ?? (actual != expected)
        case .less: return numbers.map { $0 < $1 } ?? false
        case .lessOrEqual: return numbers.map { $0 <= $1 } ?? false
        case .greater: return numbers.map { $0 > $1 } ?? false
        case .greaterOrEqual: return numbers.map { $0 >= $1 } ?? false
        case .matches: return wholeMatch(actual, expected)
        }
    }

    /// Whether the regular expression (ICU syntax, as NSRegularExpression) matches all of
    /// `text`. A pattern that does not compile never matches, nor does one whose end is not
    /// its own (a trailing `(?x)` comment or `\Q` without `\E` would swallow the anchor).
    public static func wholeMatch(_ text: String, _ pattern: String) -> Bool {
        // The pattern is compiled alone first: only a pattern that is valid by itself may be
        // wrapped in the anchoring group (`a)|(b` would otherwise become valid once wrapped).
        // NSRegularExpression refuses an empty pattern; it matches the empty text.
        guard pattern.isEmpty || (try? NSRegularExpression(pattern: pattern)) != nil,
            let anchored = try? NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z")
        else { return false }
        let whole = NSRange(text.startIndex..<text.endIndex, in: text)
        return anchored.firstMatch(in: text, range: whole) != nil
    }

    /// The caller's number as given and, for an international Chinese number (`+86…`,
    /// `0086…`), the national number and its trunk-prefixed form (`0…`, as landlines are
    /// written at home).
    static func callerForms(_ caller: String) -> [String] {
        for prefix in ["+86", "0086"] where caller.hasPrefix(prefix) && caller.count > prefix.count {
            let national = String(caller.dropFirst(prefix.count))
            return [caller, national, "0" + national]
        }
        return [caller]
    }
}

/// A decimal number written `[+-]digits[.digits]` (spaces around ignored), compared exactly
/// (an 18-digit ID number does not fit a Double without rounding).
private struct DecimalNumber: Comparable {
    private var negative: Bool
    /// Integer digits without leading zeros ("" for zero).
    private var integer: Substring
    /// Fraction digits without trailing zeros.
    private var fraction: Substring

    init?(_ text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if let sign = rest.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        integer = parts[0].drop { $0 == "0" }
        fraction = parts.count == 2 ? parts[1] : ""
        while fraction.last == "0" { fraction = fraction.dropLast() }
        self.negative = negative && !(integer.isEmpty && fraction.isEmpty)
    }

    static func < (a: DecimalNumber, b: DecimalNumber) -> Bool {
        if a.negative != b.negative { return a.negative }
        return a.negative ? magnitudeLess(b, a) : magnitudeLess(a, b)
    }

    private static func magnitudeLess(_ a: DecimalNumber, _ b: DecimalNumber) -> Bool {
        if a.integer.count != b.integer.count { return a.integer.count < b.integer.count }
        if a.integer != b.integer { return a.integer < b.integer }
        // Without trailing zeros, digit strings order like the fractions they write.
        return a.fraction < b.fraction
    }
}
