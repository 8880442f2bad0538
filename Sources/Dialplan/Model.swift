import Foundation

// The dialplan language (docs/dialplan.md): a YAML file of named nodes, each a list of steps
// (verbs). These types are what the loader builds, the validator checks and the interpreter
// runs. Every element keeps where it was written, for `file:line:column` messages.

/// A position in a dialplan file (1-based line and column).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A value with the place it was written.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// One dialplan file.
public struct Dialplan: Sendable {
    /// The file name without `.yaml`, e.g. `12345`: how lines and campaigns name it.
    public var name: String
    public var file: String
    /// Language of a call unless the line or a `set: {language: ...}` says otherwise.
    public var language: String
    /// The zone of `time`, `weekday`, `day` and `date` conditions.
    public var timeZone: TimeZone
    /// Every language the dialplan can play; each prompt must exist in each.
    public var languages: [String]
    /// The node a call starts in.
    public var start: Located<String>
    public var limits: Limits
    /// Variables every call starts with (before the built-ins, which win).
    public var variables: [String: String]
    /// Named caller lists (`caller-in:` conditions): list name → numbers.
    public var callerLists: [String: CallerList]
    /// Nodes by name, and their order in the file (for stable warnings).
    public var nodes: [String: Node]
    public var nodeOrder: [String]

    public init(
        name: String, file: String, language: String, timeZone: TimeZone = .current, languages: [String], start: Located<String>,
        limits: Limits = Limits(),
        variables: [String: String] = [:], callerLists: [String: CallerList] = [:], nodes: [Node]
    ) {
        self.name = name
        self.file = file
        self.language = language
        self.timeZone = timeZone
        self.languages = languages
        self.start = start
        self.limits = limits
        self.variables = variables
        self.callerLists = callerLists
        self.nodes = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.nodeOrder = nodes.map(\.name)
    }
}

/// Bounds on one call's run through a dialplan: beyond them the caller hears `goodbye` and
/// the call ends (a caller pressing keys for ten minutes, a loop through a webhook).
public struct Limits: Sendable, Hashable {
    /// Steps executed (every verb, `goto` included).
    public var steps: Int
    /// Time in the dialplan (IVR only: a bridged or queued call is not counted).
    public var duration: Duration
    /// Prompt played before hanging up on a limit (if it exists).
    public var goodbyePrompt: String

    public init(steps: Int = 300, duration: Duration = .seconds(900), goodbyePrompt: String = "goodbye") {
        self.steps = steps
        self.duration = duration
        self.goodbyePrompt = goodbyePrompt
    }
}

/// A named list of caller numbers, from the dialplan (`numbers:`) or a file beside it (`file:`).
public struct CallerList: Sendable, Hashable {
    public var numbers: Set<String>
    public var location: SourceLocation
    public init(numbers: Set<String>, location: SourceLocation) {
        self.numbers = numbers
        self.location = location
    }
}

public struct Node: Sendable {
    public var name: String
    public var location: SourceLocation
    public var steps: [Step]
    public init(name: String, location: SourceLocation, steps: [Step]) {
        self.name = name
        self.location = location
        self.steps = steps
    }
}

/// One verb with where it was written.
public struct Step: Sendable {
    public var verb: Verb
    public var location: SourceLocation
    public init(_ verb: Verb, at location: SourceLocation) {
        self.verb = verb
        self.location = location
    }
}

/// A reference to another node (`goto`, a menu option, a fallback...).
public typealias NodeReference = Located<String>
/// A prompt name: `Prompts/<language>/<name>.wav`.
public typealias PromptReference = Located<String>

public enum Verb: Sendable {
    /// Answers the call (200 OK) if not yet answered. Media verbs answer implicitly.
    case answer
    case play(Play)
    case say(Say)
    case gather(Gather)
    case menu(Menu)
    case goto(NodeReference)
    /// Variables to set; values are templates (`${caller}`).
    case set([Assignment])
    case when(When)
    case enqueue(Enqueue)
    case dial(Dial)
    case record(Record)
    case robot(Robot)
    case webhook(Webhook)
    case hangup(Hangup)

    /// The verb's name as written in the file.
    public var name: String {
        switch self {
        case .answer: "answer"
        case .play: "play"
        case .say: "say"
        case .gather: "gather"
        case .menu: "menu"
        case .goto: "goto"
        case .set: "set"
        case .when: "when"
        case .enqueue: "enqueue"
        case .dial(let d): d.isTransfer ? "transfer" : "dial"
        case .record: "record"
        case .robot: "robot"
        case .webhook: "webhook"
        case .hangup: "hangup"
        }
    }
}

public struct Play: Sendable {
    public var prompts: [PromptReference]
    /// A key pressed during playback stops it and is kept for the next `gather`/`menu`.
    public var interruptible: Bool
    public init(prompts: [PromptReference], interruptible: Bool = true) {
        self.prompts = prompts
        self.interruptible = interruptible
    }
}

public struct Say: Sendable {
    /// A template: `${ticket.status}` is replaced by the variable's value.
    public var text: Located<String>
    public var interruptible: Bool
    public init(text: Located<String>, interruptible: Bool = true) {
        self.text = text
        self.interruptible = interruptible
    }
}

/// Prompts around collecting keys, shared by `gather` and `menu`.
public struct InputPrompts: Sendable {
    /// Played before waiting (and again on each retry); interruptible.
    public var prompt: [PromptReference]
    /// Played after a wrong input, before the retry.
    public var invalid: [PromptReference]
    /// Played after a timeout without a key, before the retry.
    public var noInput: [PromptReference]
    public init(prompt: [PromptReference] = [], invalid: [PromptReference] = [], noInput: [PromptReference] = []) {
        self.prompt = prompt
        self.invalid = invalid
        self.noInput = noInput
    }
    public var all: [PromptReference] { prompt + invalid + noInput }
}

/// Collects a number (a ticket number, an ID card tail...) into a variable.
public struct Gather: Sendable {
    public var prompts: InputPrompts
    /// The variable that receives the digits (without the terminator).
    public var variable: Located<String>
    public var minDigits: Int
    public var maxDigits: Int
    /// Ends input early (not stored); nil: input ends at `maxDigits` or the inter-digit timeout.
    public var terminator: Character?
    public var firstDigitTimeout: Duration
    public var interDigitTimeout: Duration
    /// Tries in all (the first included) before `onFailure`.
    public var attempts: Int
    /// Digits must match this regular expression (whole input), else invalid.
    public var pattern: Located<String>?
    /// Where to go on success; nil: the next step.
    public var next: NodeReference?
    /// Where to go after the last failed attempt; nil: the next step (variable empty).
    public var onFailure: NodeReference?

    public init(
        prompts: InputPrompts, variable: Located<String>, minDigits: Int = 1, maxDigits: Int = 20, terminator: Character? = "#",
        firstDigitTimeout: Duration = .seconds(5), interDigitTimeout: Duration = .seconds(3), attempts: Int = 3,
        pattern: Located<String>? = nil, next: NodeReference? = nil, onFailure: NodeReference? = nil
    ) {
        self.prompts = prompts
        self.variable = variable
        self.minDigits = minDigits
        self.maxDigits = maxDigits
        self.terminator = terminator
        self.firstDigitTimeout = firstDigitTimeout
        self.interDigitTimeout = interDigitTimeout
        self.attempts = attempts
        self.pattern = pattern
        self.next = next
        self.onFailure = onFailure
    }
}

/// One key → one node.
public struct Menu: Sendable {
    public var prompts: InputPrompts
    /// Key ("0"–"9", "*", "#") → node, in file order.
    public var options: [(key: Located<Character>, node: NodeReference)]
    /// Seconds to wait for a key after the prompt.
    public var timeout: Duration
    public var attempts: Int
    /// After the last failed attempt; nil: the next step.
    public var onFailure: NodeReference?
    /// Also store the key pressed in this variable.
    public var variable: Located<String>?

    public init(
        prompts: InputPrompts, options: [(key: Located<Character>, node: NodeReference)], timeout: Duration = .seconds(5),
        attempts: Int = 3, onFailure: NodeReference? = nil, variable: Located<String>? = nil
    ) {
        self.prompts = prompts
        self.options = options
        self.timeout = timeout
        self.attempts = attempts
        self.onFailure = onFailure
        self.variable = variable
    }
}

public struct Assignment: Sendable {
    public var variable: Located<String>
    /// A template.
    public var value: Located<String>
    public init(variable: Located<String>, value: Located<String>) {
        self.variable = variable
        self.value = value
    }
}

/// Branches tried in order; the first whose conditions all hold is taken. With no match and
/// no `otherwise`, the node goes on with its next step.
public struct When: Sendable {
    public var branches: [Branch]
    public var otherwise: NodeReference?
    public init(branches: [Branch], otherwise: NodeReference?) {
        self.branches = branches
        self.otherwise = otherwise
    }

    public struct Branch: Sendable {
        /// All must hold (an empty list always holds).
        public var conditions: [Condition]
        public var target: NodeReference
        public var location: SourceLocation
        public init(conditions: [Condition], target: NodeReference, location: SourceLocation) {
            self.conditions = conditions
            self.target = target
            self.location = location
        }
    }
}

public struct Condition: Sendable {
    public var test: Test
    public var location: SourceLocation
    public init(_ test: Test, at location: SourceLocation) {
        self.test = test
        self.location = location
    }

    public enum Test: Sendable {
        /// Local time of day in any of the ranges (start inclusive, end exclusive; may wrap midnight).
        case time([TimeRange])
        /// Day of week in the set (1 = Monday … 7 = Sunday, ISO 8601).
        case weekday(Set<Int>)
        /// The day's kind in the holiday calendar.
        case day(Set<DayKind>)
        /// Local date within any of the ranges (inclusive).
        case date([DateRange])
        /// The caller's number matches the regular expression (whole number).
        case caller(Located<String>)
        /// The dialled number matches the regular expression (whole number).
        case called(Located<String>)
        /// The caller's number is in the named list.
        case callerIn(Located<String>)
        /// A variable compared with a value (after template expansion).
        case variable(name: Located<String>, comparison: Comparison, value: String)
    }
}

/// `HH:MM-HH:MM` in minutes since midnight, local time of the node.
public struct TimeRange: Sendable, Hashable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
    public func contains(minute: Int) -> Bool {
        start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end)
    }
}

/// A calendar day, `YYYY-MM-DD`.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }
    public static func < (a: CalendarDay, b: CalendarDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }
}

public struct DateRange: Sendable, Hashable {
    public var first: CalendarDay
    public var last: CalendarDay
    public init(first: CalendarDay, last: CalendarDay) {
        self.first = first
        self.last = last
    }
    public func contains(_ day: CalendarDay) -> Bool { first <= day && day <= last }
}

/// What kind of day a date is, in China's statutory calendar.
public enum DayKind: String, Sendable, Hashable, CaseIterable {
    /// Monday–Friday that is not a holiday, or a weekend day made a working day (调休).
    case workday
    /// A day off: a weekend day that is not a make-up working day, or a holiday.
    case restday
    /// A statutory holiday day (节假日), including the weekend days inside the holiday.
    case holiday
    /// A weekend day that is a working day because of a holiday (调休上班).
    case makeupWorkday = "makeup-workday"
    /// Saturday or Sunday that is neither holiday nor make-up day.
    case weekend
}

public enum Comparison: String, Sendable, Hashable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    /// The value is a regular expression the whole variable must match.
    case matches = "~"
}

public struct Enqueue: Sendable {
    public var queue: Located<String>
    /// Higher is served first (0–9).
    public var priority: Int
    public var skills: [Located<String>]
    /// Leave the queue after this long (nil: the queue's own timeout).
    public var timeout: Duration?
    /// Where to go when the caller leaves the queue without an agent; nil: the next step.
    public var next: NodeReference?
    public init(queue: Located<String>, priority: Int = 0, skills: [Located<String>] = [], timeout: Duration? = nil, next: NodeReference? = nil) {
        self.queue = queue
        self.priority = priority
        self.skills = skills
        self.timeout = timeout
        self.next = next
    }
}

/// `dial` (a bridged call; the hotline stays in the media path and keeps recording) and
/// `transfer` (the same, or a blind transfer by REFER when `mode: blind`).
public struct Dial: Sendable {
    public enum Mode: String, Sendable {
        case bridge
        case blind
    }
    /// An extension (account), or a number dialled through a trunk. A template.
    public var target: Located<String>
    /// The trunk to dial through; nil: an account, else `calls.outbound-trunk`.
    public var trunk: Located<String>?
    public var mode: Mode
    public var isTransfer: Bool
    /// Ringing time before giving up.
    public var timeout: Duration
    /// Played to the caller before dialling.
    public var prompt: [PromptReference]
    /// Where to go when nobody answers or the target refuses; nil: the next step.
    public var onFailure: NodeReference?

    public init(
        target: Located<String>, trunk: Located<String>? = nil, mode: Mode = .bridge, isTransfer: Bool = false, timeout: Duration = .seconds(30),
        prompt: [PromptReference] = [], onFailure: NodeReference? = nil
    ) {
        self.target = target
        self.trunk = trunk
        self.mode = mode
        self.isTransfer = isTransfer
        self.timeout = timeout
        self.prompt = prompt
        self.onFailure = onFailure
    }
}

/// Records a message from the caller (e.g. after hours).
public struct Record: Sendable {
    /// Played before the beep.
    public var prompt: [PromptReference]
    public var maxLength: Duration
    /// This long without speech ends the message.
    public var silence: Duration
    /// A key that ends the message (not recorded).
    public var terminator: Character?
    /// Receives the message file's path.
    public var variable: Located<String>?
    public var beep: Bool
    public var next: NodeReference?

    public init(
        prompt: [PromptReference] = [], maxLength: Duration = .seconds(120), silence: Duration = .seconds(5), terminator: Character? = "#",
        variable: Located<String>? = nil, beep: Bool = true, next: NodeReference? = nil
    ) {
        self.prompt = prompt
        self.maxLength = maxLength
        self.silence = silence
        self.terminator = terminator
        self.variable = variable
        self.beep = beep
        self.next = next
    }
}

/// Hands the caller to the voice robot. The robot arrives in a later issue: until then the
/// call always goes to `fallback`.
public struct Robot: Sendable {
    /// The robot's knowledge base / scenario name, e.g. `policy`.
    public var scenario: Located<String>?
    /// Where the caller goes when the robot cannot help (or does not exist yet).
    public var fallback: NodeReference
    public init(scenario: Located<String>?, fallback: NodeReference) {
        self.scenario = scenario
        self.fallback = fallback
    }
}

/// An HTTP request whose JSON object answer sets variables (`<as>.<field>`) and may name the
/// next node (`"next"`).
public struct Webhook: Sendable {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }
    /// A template.
    public var url: Located<String>
    public var method: Method
    /// Templates; POSTed as a JSON object, or as the query of a GET.
    public var parameters: [(name: String, value: Located<String>)]
    public var timeout: Duration
    /// Prefix of the variables set from the answer, e.g. `ticket` → `${ticket.status}`.
    public var prefix: String
    /// Where to go on success when the answer names no node; nil: the next step.
    public var next: NodeReference?
    /// Where to go on timeout, error, non-2xx or an answer that is not a JSON object.
    public var onFailure: NodeReference

    public init(
        url: Located<String>, method: Method = .post, parameters: [(name: String, value: Located<String>)] = [], timeout: Duration = .seconds(3),
        prefix: String = "webhook", next: NodeReference? = nil, onFailure: NodeReference
    ) {
        self.url = url
        self.method = method
        self.parameters = parameters
        self.timeout = timeout
        self.prefix = prefix
        self.next = next
        self.onFailure = onFailure
    }
}

public struct Hangup: Sendable {
    /// Played before hanging up.
    public var prompt: [PromptReference]
    public init(prompt: [PromptReference] = []) {
        self.prompt = prompt
    }
}

extension Verb {
    /// Nodes this verb may continue in (not counting falling through to the next step).
    public var targets: [NodeReference] {
        switch self {
        case .answer, .play, .say, .set, .hangup: return []
        case .goto(let n): return [n]
        case .gather(let g): return [g.next, g.onFailure].compactMap { $0 }
        case .menu(let m): return m.options.map(\.node) + [m.onFailure].compactMap { $0 }
        case .when(let w): return w.branches.map(\.target) + [w.otherwise].compactMap { $0 }
        case .enqueue(let e): return [e.next].compactMap { $0 }
        case .dial(let d): return [d.onFailure].compactMap { $0 }
        case .record(let r): return [r.next].compactMap { $0 }
        case .robot(let r): return [r.fallback]
        case .webhook(let w): return [w.next, w.onFailure].compactMap { $0 }
        }
    }

    /// Every prompt the verb may play.
    public var prompts: [PromptReference] {
        switch self {
        case .play(let p): return p.prompts
        case .gather(let g): return g.prompts.all
        case .menu(let m): return m.prompts.all
        case .dial(let d): return d.prompt
        case .record(let r): return r.prompt
        case .hangup(let h): return h.prompt
        case .answer, .say, .goto, .set, .when, .enqueue, .robot, .webhook: return []
        }
    }

    /// Whether the verb waits for the caller (keys or speech): a loop through it is not a
    /// loop "without caller input".
    public var takesCallerInput: Bool {
        switch self {
        case .gather, .menu, .record: return true
        case .answer, .play, .say, .goto, .set, .when, .enqueue, .dial, .robot, .webhook, .hangup: return false
        }
    }

    /// Whether the node never goes on to its next step after this verb.
    public var endsNode: Bool {
        switch self {
        case .goto, .hangup, .robot: return true
        case .when(let w): return w.otherwise != nil || w.branches.contains { $0.conditions.isEmpty }
        case .menu(let m): return m.onFailure != nil
        case .enqueue(let e): return e.next != nil
        case .dial(let d): return d.onFailure != nil
        case .record(let r): return r.next != nil
        case .gather(let g): return g.next != nil && g.onFailure != nil
        case .webhook(let w): return w.next != nil
        case .answer, .play, .say, .set: return false
        }
    }
}
