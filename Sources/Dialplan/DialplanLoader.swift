import Foundation
import Yams

/// Reads dialplan files (docs/dialplan.md) into the model, reporting every problem of syntax,
/// unknown keys and verbs, types and values it finds with the file, line and column.
///
/// The loader checks a file on its own; what needs the rest of the configuration (prompts,
/// queues, trunks) or the whole graph (node references, loops) is `DialplanValidator`'s.
public enum DialplanLoader {
    /// Loads `path`. `displayPath` (default: `path`) is the file named in diagnostics and in
    /// `Dialplan.file`; list files (`lists: {x: {file: ...}}`) are read relative to `path`'s folder.
    ///
    /// - Returns: the dialplan, or nil when there is any error; and the diagnostics, sorted by location.
    public static func load(path: String, displayPath: String? = nil) -> (Dialplan?, [Diagnostic]) {
        let file = displayPath ?? path
        let fileName = (path as NSString).lastPathComponent
        let name = ["yaml", "yml"].contains((fileName as NSString).pathExtension) ? (fileName as NSString).deletingPathExtension : fileName
        let folder = (path as NSString).deletingLastPathComponent
        let directory = folder.isEmpty ? "." : folder
        let top = SourceLocation(file: file, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            return (nil, [.error("cannot read the dialplan file", at: top)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return (nil, [.error("the dialplan file is not UTF-8 text", at: top)])
        }
        return parse(yaml: text, file: file, name: name, directory: directory)
    }

    /// Parses a dialplan's text. `file` is the path named in diagnostics, `name` the dialplan's
    /// name (the file name without `.yaml`), `directory` the folder list files are relative to.
    ///
    /// - Returns: the dialplan, or nil when there is any error; and the diagnostics, sorted by location.
    public static func parse(yaml: String, file: String, name: String, directory: String) -> (Dialplan?, [Diagnostic]) {
        var parser = DialplanParser(file: file, directory: directory)
        let plan = parser.parseDocument(yaml, name: name)
        let diagnostics = parser.diagnostics.sortedByLocation()
        return (diagnostics.contains(where: \.isError) ? nil : plan, diagnostics)
    }
}

// MARK: - Vocabulary

/// Names the language uses, in the order the documentation lists them (messages list them so).
enum Vocabulary {
    static let topLevelKeys = ["language", "languages", "start", "timezone", "limits", "variables", "lists", "nodes"]
    static let limitsKeys = ["steps", "duration", "goodbye"]
    static let listKeys = ["file", "numbers"]
    static let verbs = VerbName.allCases.map(\.rawValue)
    static let playKeys = ["prompts", "interruptible"]
    static let sayKeys = ["text", "interruptible"]
    static let menuKeys = ["prompt", "invalid", "no-input", "timeout", "attempts", "variable", "options", "on-failure"]
    static let gatherKeys = [
        "prompt", "invalid", "no-input", "variable", "min-digits", "max-digits", "terminator", "first-digit-timeout",
        "inter-digit-timeout", "attempts", "pattern", "next", "on-failure",
    ]
    static let branchKeys = ["if", "goto", "otherwise"]
    static let conditionKeys = ConditionKey.allCases.map(\.rawValue)
    static let enqueueKeys = ["queue", "priority", "skills", "timeout", "next"]
    static let dialKeys = ["to", "trunk", "timeout", "prompt", "on-failure"]
    static let transferKeys = ["to", "trunk", "mode", "timeout", "prompt", "on-failure"]
    static let recordKeys = ["prompt", "max-length", "silence", "terminator", "beep", "variable", "next"]
    static let robotKeys = ["scenario", "fallback"]
    static let webhookKeys = ["url", "method", "parameters", "timeout", "as", "next", "on-failure"]
    static let hangupKeys = ["prompt"]

    /// Keys a caller can press: menu options and terminators.
    static let keypadKeys: Set<Character> = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"]
    static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    /// Built-in variables a `set` may not change (docs/dialplan.md, Variables).
    static let readOnlyVariables: Set<String> = [
        "caller", "called", "call.id", "repeat.day", "repeat.week", "node", "dialplan", "digits", "dial.status", "message",
    ]

    /// YAMLNode, variable, list, prompt and language names: `[A-Za-z0-9_.-]+`.
    static func isName(_ s: String) -> Bool {
        !s.isEmpty
            && s.unicodeScalars.allSatisfy { c in
                ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "." || c == "-"
            }
    }

    static func isTemplate(_ s: String) -> Bool { s.contains("${") }

    static func isValidRegex(_ pattern: String) -> Bool {
        (try? NSRegularExpression(pattern: pattern)) != nil
    }
}

/// The verbs, as written in a step.
enum VerbName: String, CaseIterable {
    case answer, play, say, menu, gather, goto, set, when, enqueue, dial, transfer, record, robot, webhook, hangup
}

/// The keys of a `when` branch's `if:`.
enum ConditionKey: String, CaseIterable {
    case time, weekday, day, date, caller, called
    case callerIn = "caller-in"
    case vars
}

// MARK: - Parser

/// What a name names, for the checks and messages of names.
enum NameKind: String {
    case node
    case variable
    case prompt
    case list
    case language
}

/// The entries of one YAML mapping whose keys were checked against the allowed ones: unknown
/// and duplicate keys are reported when it is made and left out.
struct Fields {
    /// The construct the mapping belongs to (a verb, a branch...): where "missing" errors point.
    var owner: SourceLocation
    /// "menu", "list 'vip'"... for messages.
    var context: String
    /// In file order.
    var entries: [(name: String, key: YAMLNode, value: YAMLNode)] = []

    subscript(name: String) -> YAMLNode? { entries.first { $0.name == name }?.value }
    func has(_ name: String) -> Bool { entries.contains { $0.name == name } }
    func keyNode(_ name: String) -> YAMLNode? { entries.first { $0.name == name }?.key }
}

/// One pass over one file. Every check reports into `diagnostics` and goes on, so one run
/// shows every problem; values that fail fall back to their defaults.
struct DialplanParser {
    let file: String
    let directory: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, directory: String) {
        self.file = file
        self.directory = directory
    }

    // MARK: Reporting

    func location(of node: YAMLNode) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    mutating func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
    }

    mutating func error(_ message: String, at node: YAMLNode) {
        error(message, at: location(of: node))
    }

    // MARK: Document

    mutating func parseDocument(_ yaml: String, name planName: String) -> Dialplan? {
        let top = SourceLocation(file: file, line: 1, column: 1)
        let root: YAMLNode?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let yamlError as YamlError {
            reportSyntax(yamlError)
            return nil
        } catch {
            self.error("YAML syntax error: \(error)", at: top)
            return nil
        }
        guard let root, !isNull(root) else {
            error("the dialplan is empty (it needs language, start and nodes)", at: top)
            return nil
        }
        guard case .mapping(let mapping) = root else {
            error("a dialplan is a mapping of keys (\(Vocabulary.topLevelKeys.joined(separator: ", ")))", at: root)
            return nil
        }
        let fields = self.fields(
            mapping, allowed: Vocabulary.topLevelKeys, context: "the dialplan", at: location(of: root), unknownPhrase: "top-level key")
        let language = required(fields, "language").flatMap { name($0, key: "language", kind: .language) }

        var languages = language.map { [$0.value] } ?? []
        if let node = fields["languages"] {
            languages = parseLanguages(node, language: language)
        }

        var timeZone = TimeZone.current
        if let node = fields["timezone"], let zone = text(node, key: "timezone", expected: "a time zone name like Asia/Shanghai") {
            if let found = TimeZone(identifier: zone.value) {
                timeZone = found
            } else {
                error("unknown time zone '\(zone.value)' (use an IANA name like Asia/Shanghai)", at: zone.location)
            }
        }

        let start = required(fields, "start").flatMap { nodeReference($0, key: "start") }
        let limits = fields["limits"].map { parseLimits($0) } ?? Limits()
        let variables = fields["variables"].map { parseVariables($0) } ?? [:]
        let lists = fields["lists"].map { parseLists($0) } ?? [:]
        let nodes = required(fields, "nodes").map { parseNodes($0) } ?? []

        guard let language, let start else { return nil }
        return Dialplan(
            name: planName, file: file, language: language.value, timeZone: timeZone, languages: languages, start: start,
            limits: limits, variables: variables, callerLists: lists, nodes: nodes)
    }

    mutating func reportSyntax(_ yamlError: YamlError) {
        let top = SourceLocation(file: file, line: 1, column: 1)
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        func describe(_ context: YamlError.Context?, _ problem: String) -> String {
            guard let context else { return "YAML syntax error: \(problem)" }
            return "YAML syntax error: \(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            error(describe(context, problem), at: at(mark))
        case .reader(let problem, _, _, _):
            error("YAML syntax error: \(problem)", at: top)
        default:
            // The emitter's cases, and any a later Yams adds: no position to give.
            error("YAML syntax error: \(yamlError)", at: top)
        }
    }

    mutating func parseLanguages(_ node: YAMLNode, language: Located<String>?) -> [String] {
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            error("'languages' must be a list of languages like [zh-CN, en-US]", at: node)
            return language.map { [$0.value] } ?? []
        }
        var languages: [String] = []
        for item in sequence {
            guard let entry = name(item, key: "languages", kind: .language) else { continue }
            if languages.contains(entry.value) {
                error("duplicate language '\(entry.value)'", at: entry.location)
            } else {
                languages.append(entry.value)
            }
        }
        if let language, !languages.isEmpty, !languages.contains(language.value) {
            error("'languages' must include the dialplan's language '\(language.value)'", at: node)
        }
        return languages
    }

    mutating func parseLimits(_ node: YAMLNode) -> Limits {
        var limits = Limits()
        guard let fields = mappingFields(node, key: "limits", allowed: Vocabulary.limitsKeys, context: "limits") else { return limits }
        if let n = fields["steps"], let steps = positiveInteger(n, key: "steps") { limits.steps = steps }
        if let n = fields["duration"], let duration = duration(n, key: "duration") { limits.duration = duration }
        if let n = fields["goodbye"], let prompt = name(n, key: "goodbye", kind: .prompt) { limits.goodbyePrompt = prompt.value }
        return limits
    }

    mutating func parseVariables(_ node: YAMLNode) -> [String: String] {
        guard case .mapping(let mapping) = node else {
            error("'variables' must be a mapping of names to values", at: node)
            return [:]
        }
        var variables: [String: String] = [:]
        for (key, value) in uniqueEntries(mapping, kind: .variable) {
            if let text = text(value, key: key.value, expected: "a string") { variables[key.value] = text.value }
        }
        return variables
    }

    mutating func parseLists(_ node: YAMLNode) -> [String: CallerList] {
        guard case .mapping(let mapping) = node else {
            error("'lists' must be a mapping of list names to {file} or {numbers}", at: node)
            return [:]
        }
        var lists: [String: CallerList] = [:]
        for (key, value) in uniqueEntries(mapping, kind: .list) {
            let context = "list '\(key.value)'"
            guard let fields = mappingFields(value, key: key.value, allowed: Vocabulary.listKeys, context: context, owner: key.location)
            else { continue }
            var numbers: Set<String> = []
            switch (fields["file"], fields["numbers"]) {
            case (nil, nil):
                error("missing 'file' or 'numbers' in \(context)", at: key.location)
            case (.some, .some):
                error("\(context) has both 'file' and 'numbers' (use one)", at: key.location)
            case (.some(let fileNode), nil):
                if let path = text(fileNode, key: "file", expected: "a file path") { numbers = readList(path) }
            case (nil, .some(let numbersNode)):
                numbers = Set((stringList(numbersNode, key: "numbers", expected: "a list of numbers", allowEmpty: true) ?? []).map(\.value))
            }
            lists[key.value] = CallerList(numbers: numbers, location: key.location)
        }
        return lists
    }

    /// One number per line; `#` starts a comment; blank lines are ignored.
    mutating func readList(_ path: Located<String>) -> Set<String> {
        let full = path.value.hasPrefix("/") ? path.value : (directory as NSString).appendingPathComponent(path.value)
        guard FileManager.default.fileExists(atPath: full) else {
            error("list file '\(path.value)' not found", at: path.location)
            return []
        }
        guard let data = FileManager.default.contents(atPath: full), let contents = String(data: data, encoding: .utf8) else {
            error("cannot read list file '\(path.value)'", at: path.location)
            return []
        }
        var numbers: Set<String> = []
        for line in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let withoutComment = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let number = withoutComment.trimmingCharacters(in: .whitespaces)
            if !number.isEmpty { numbers.insert(number) }
        }
        return numbers
    }

    // MARK: Nodes and steps

    mutating func parseNodes(_ node: YAMLNode) -> [Node] {
        guard case .mapping(let mapping) = node else {
            error("'nodes' must be a mapping of node names to lists of steps", at: node)
            return []
        }
        var nodes: [Node] = []
        for (key, value) in uniqueEntries(mapping, kind: .node, duplicate: "duplicate node", includeDuplicates: true) {
            guard case .sequence(let sequence) = value else {
                error("node '\(key.value)' must be a list of steps", at: value)
                continue
            }
            let steps = sequence.compactMap { step($0) }
            // A repeated node's steps are checked, but the first node of a name is the one kept.
            if !nodes.contains(where: { $0.name == key.value }) {
                nodes.append(Node(name: key.value, location: key.location, steps: steps))
            }
        }
        return nodes
    }

    mutating func step(_ node: YAMLNode) -> Step? {
        switch node {
        case .scalar(let scalar):
            let at = location(of: node)
            if isNull(node) {
                error("empty step", at: at)
                return nil
            }
            guard let verb = VerbName(rawValue: scalar.string) else {
                error(unknownVerb(scalar.string), at: at)
                return nil
            }
            switch verb {
            case .answer: return Step(.answer, at: at)
            case .hangup: return Step(.hangup(Hangup()), at: at)
            case .record: return Step(.record(Record()), at: at)
            case .play, .say, .menu, .gather, .goto, .set, .when, .enqueue, .dial, .transfer, .robot, .webhook:
                error("'\(verb.rawValue)' needs arguments ('\(verb.rawValue): ...')", at: at)
                return nil
            }
        case .mapping(let mapping):
            guard mapping.count == 1, let (key, value) = mapping.first else {
                let keys = mapping.map { $0.key.scalar?.string ?? "?" }
                if keys.isEmpty {
                    error("empty step", at: node)
                } else {
                    error(
                        "a step is one verb, found \(keys.count) keys (\(keys.joined(separator: ", "))); indent the verb's arguments under it",
                        at: node)
                }
                return nil
            }
            guard case .scalar(let verbScalar) = key else {
                error("a step is a verb name or 'verb: arguments'", at: key)
                return nil
            }
            let at = location(of: key)
            guard let name = VerbName(rawValue: verbScalar.string) else {
                error(unknownVerb(verbScalar.string), at: at)
                return nil
            }
            return parseVerb(name, value: value, at: at).map { Step($0, at: at) }
        case .sequence:
            error("a step is a verb name or 'verb: arguments', not a list", at: node)
            return nil
        }
    }

    func unknownVerb(_ verb: String) -> String {
        "unknown verb '\(verb)' (verbs: \(Vocabulary.verbs.joined(separator: ", ")))"
    }

    /// `verb: value`; `at` is the verb's place.
    mutating func parseVerb(_ verb: VerbName, value: YAMLNode, at: SourceLocation) -> Verb? {
        switch verb {
        case .answer:
            if !isNull(value) { error("'answer' takes no arguments", at: value) }
            return .answer
        case .play: return parsePlay(value, at: at).map { .play($0) }
        case .say: return parseSay(value, at: at).map { .say($0) }
        case .menu: return parseMenu(value, at: at).map { .menu($0) }
        case .gather: return parseGather(value, at: at).map { .gather($0) }
        case .goto: return nodeReference(value, key: "goto").map { .goto($0) }
        case .set: return parseSet(value).map { .set($0) }
        case .when: return parseWhen(value).map { .when($0) }
        case .enqueue: return parseEnqueue(value, at: at).map { .enqueue($0) }
        case .dial: return parseDial(value, isTransfer: false, at: at).map { .dial($0) }
        case .transfer: return parseDial(value, isTransfer: true, at: at).map { .dial($0) }
        case .record: return parseRecord(value, at: at).map { .record($0) }
        case .robot: return parseRobot(value, at: at).map { .robot($0) }
        case .webhook: return parseWebhook(value, at: at).map { .webhook($0) }
        case .hangup: return parseHangup(value, at: at).map { .hangup($0) }
        }
    }

    // MARK: Verbs

    mutating func parsePlay(_ value: YAMLNode, at: SourceLocation) -> Play? {
        switch value {
        case .scalar, .sequence:
            return prompts(value, key: "play").map { Play(prompts: $0) }
        case .mapping:
            guard let fields = verbFields(value, verb: "play", allowed: Vocabulary.playKeys, at: at) else { return nil }
            let interruptible = fields["interruptible"].flatMap { bool($0, key: "interruptible") } ?? true
            guard let node = required(fields, "prompts") else { return nil }
            return prompts(node, key: "prompts").map { Play(prompts: $0, interruptible: interruptible) }
        }
    }

    mutating func parseSay(_ value: YAMLNode, at: SourceLocation) -> Say? {
        switch value {
        case .scalar:
            return text(value, key: "say", expected: "a text or {text, interruptible}").map { Say(text: $0) }
        case .sequence:
            error("'say' must be a text or {text, interruptible}", at: value)
            return nil
        case .mapping:
            guard let fields = verbFields(value, verb: "say", allowed: Vocabulary.sayKeys, at: at) else { return nil }
            let interruptible = fields["interruptible"].flatMap { bool($0, key: "interruptible") } ?? true
            guard let node = required(fields, "text") else { return nil }
            return text(node, key: "text", expected: "a text").map { Say(text: $0, interruptible: interruptible) }
        }
    }

    mutating func inputPrompts(_ fields: Fields) -> InputPrompts {
        InputPrompts(
            prompt: fields["prompt"].flatMap { prompts($0, key: "prompt") } ?? [],
            invalid: fields["invalid"].flatMap { prompts($0, key: "invalid") } ?? [],
            noInput: fields["no-input"].flatMap { prompts($0, key: "no-input") } ?? [])
    }

    mutating func parseMenu(_ value: YAMLNode, at: SourceLocation) -> Menu? {
        guard let fields = verbFields(value, verb: "menu", allowed: Vocabulary.menuKeys, at: at) else { return nil }
        let prompts = inputPrompts(fields)
        let timeout = fields["timeout"].flatMap { duration($0, key: "timeout") } ?? .seconds(5)
        let attempts = fields["attempts"].flatMap { positiveInteger($0, key: "attempts") } ?? 3
        let variable = fields["variable"].flatMap { name($0, key: "variable", kind: .variable) }
        let onFailure = fields["on-failure"].flatMap { nodeReference($0, key: "on-failure") }
        guard let optionsNode = required(fields, "options") else { return nil }
        guard case .mapping(let mapping) = optionsNode, !mapping.isEmpty else {
            error("'options' must map keys (0-9, *, #) to nodes, like \"1\": policy", at: optionsNode)
            return nil
        }
        var options: [(key: Located<Character>, node: NodeReference)] = []
        for (key, node) in uniqueEntries(mapping, kind: nil, duplicate: "duplicate menu key") {
            let target = nodeReference(node, key: key.value)
            guard key.value.count == 1, let character = key.value.first, Vocabulary.keypadKeys.contains(character) else {
                error("bad menu key '\(key.value)' (keys are 0-9, *, #; quote them: \"1\", \"*\", \"#\")", at: key.location)
                continue
            }
            if let target { options.append((Located(character, at: key.location), target)) }
        }
        return Menu(prompts: prompts, options: options, timeout: timeout, attempts: attempts, onFailure: onFailure, variable: variable)
    }

    mutating func parseGather(_ value: YAMLNode, at: SourceLocation) -> Gather? {
        guard let fields = verbFields(value, verb: "gather", allowed: Vocabulary.gatherKeys, at: at) else { return nil }
        let prompts = inputPrompts(fields)
        let minDigits = fields["min-digits"].flatMap { positiveInteger($0, key: "min-digits") }
        let maxDigits = fields["max-digits"].flatMap { positiveInteger($0, key: "max-digits") }
        if (minDigits ?? 1) > (maxDigits ?? 20), let node = fields["max-digits"] ?? fields["min-digits"] {
            error("'min-digits' (\(minDigits ?? 1)) is more than 'max-digits' (\(maxDigits ?? 20))", at: node)
        }
        let terminator = fields["terminator"].map { self.terminator($0) } ?? "#"
        let firstDigitTimeout = fields["first-digit-timeout"].flatMap { duration($0, key: "first-digit-timeout") } ?? .seconds(5)
        let interDigitTimeout = fields["inter-digit-timeout"].flatMap { duration($0, key: "inter-digit-timeout") } ?? .seconds(3)
        let attempts = fields["attempts"].flatMap { positiveInteger($0, key: "attempts") } ?? 3
        let pattern = fields["pattern"].flatMap { regex($0, key: "pattern") }
        let next = fields["next"].flatMap { nodeReference($0, key: "next") }
        let onFailure = fields["on-failure"].flatMap { nodeReference($0, key: "on-failure") }
        guard let variable = required(fields, "variable").flatMap({ name($0, key: "variable", kind: .variable) }) else { return nil }
        return Gather(
            prompts: prompts, variable: variable, minDigits: minDigits ?? 1, maxDigits: maxDigits ?? 20, terminator: terminator,
            firstDigitTimeout: firstDigitTimeout, interDigitTimeout: interDigitTimeout, attempts: attempts, pattern: pattern, next: next,
            onFailure: onFailure)
    }

    mutating func parseSet(_ value: YAMLNode) -> [Assignment]? {
        guard case .mapping(let mapping) = value else {
            error("'set' must be a mapping of variables to values, like {language: en-US}", at: value)
            return nil
        }
        var assignments: [Assignment] = []
        for (key, node) in uniqueEntries(mapping, kind: .variable) {
            if Vocabulary.readOnlyVariables.contains(key.value) {
                error("variable '\(key.value)' is read-only", at: key.location)
            }
            if let text = text(node, key: key.value, expected: "a value") {
                assignments.append(Assignment(variable: key, value: text))
            }
        }
        return assignments
    }

    mutating func parseWhen(_ value: YAMLNode) -> When? {
        guard case .sequence(let sequence) = value, !sequence.isEmpty else {
            error("'when' must be a list of branches ('- if: {...}' with 'goto:', or '- otherwise: node')", at: value)
            return nil
        }
        var branches: [When.Branch] = []
        var otherwise: NodeReference?
        for (index, item) in sequence.enumerated() {
            guard case .mapping(let mapping) = item else {
                error("a 'when' branch must be a mapping ('if:' with 'goto:', or 'otherwise:')", at: item)
                continue
            }
            let at = location(of: item)
            let fields = self.fields(mapping, allowed: Vocabulary.branchKeys, context: "when branch", at: at)
            if let otherwiseNode = fields["otherwise"], let otherwiseKey = fields.keyNode("otherwise") {
                if fields.has("if") || fields.has("goto") {
                    error("'otherwise' stands alone in its branch (no 'if' or 'goto')", at: otherwiseKey)
                }
                if index != sequence.count - 1 {
                    error("'otherwise' must be the last branch", at: otherwiseKey)
                }
                if let target = nodeReference(otherwiseNode, key: "otherwise"), otherwise == nil { otherwise = target }
                continue
            }
            let conditions = required(fields, "if").flatMap { parseConditions($0) }
            let target = required(fields, "goto").flatMap { nodeReference($0, key: "goto") }
            if let conditions, let target {
                branches.append(When.Branch(conditions: conditions, target: target, location: at))
            }
        }
        return When(branches: branches, otherwise: otherwise)
    }

    mutating func parseEnqueue(_ value: YAMLNode, at: SourceLocation) -> Enqueue? {
        if case .scalar = value {
            return text(value, key: "enqueue", expected: "a queue name").map { Enqueue(queue: $0) }
        }
        guard let fields = verbFields(value, verb: "enqueue", allowed: Vocabulary.enqueueKeys, at: at, alternative: "a queue name or ")
        else { return nil }
        var priority = 0
        if let node = fields["priority"] {
            if let p = integer(node), (0...9).contains(p) {
                priority = p
            } else {
                error("'priority' must be an integer from 0 to 9", at: node)
            }
        }
        let skills =
            fields["skills"].flatMap { stringList($0, key: "skills", expected: "a skill or a list of skills", allowEmpty: true) } ?? []
        let timeout = fields["timeout"].flatMap { duration($0, key: "timeout") }
        let next = fields["next"].flatMap { nodeReference($0, key: "next") }
        guard let queue = required(fields, "queue").flatMap({ text($0, key: "queue", expected: "a queue name") }) else { return nil }
        return Enqueue(queue: queue, priority: priority, skills: skills, timeout: timeout, next: next)
    }

    mutating func parseDial(_ value: YAMLNode, isTransfer: Bool, at: SourceLocation) -> Dial? {
        let verb = isTransfer ? "transfer" : "dial"
        if case .scalar = value {
            return text(value, key: verb, expected: "a number").map { Dial(target: $0, isTransfer: isTransfer) }
        }
        let allowed = isTransfer ? Vocabulary.transferKeys : Vocabulary.dialKeys
        guard let fields = verbFields(value, verb: verb, allowed: allowed, at: at, alternative: "a number or ") else { return nil }
        let trunk = fields["trunk"].flatMap { text($0, key: "trunk", expected: "a trunk name") }
        var mode = Dial.Mode.bridge
        if let node = fields["mode"] {
            if let text = scalarText(node), let m = Dial.Mode(rawValue: text) {
                mode = m
            } else {
                error("'mode' must be bridge or blind", at: node)
            }
        }
        let timeout = fields["timeout"].flatMap { duration($0, key: "timeout") } ?? .seconds(30)
        let prompt = fields["prompt"].flatMap { prompts($0, key: "prompt") } ?? []
        let onFailure = fields["on-failure"].flatMap { nodeReference($0, key: "on-failure") }
        guard let target = required(fields, "to").flatMap({ text($0, key: "to", expected: "a number or an account") }) else { return nil }
        return Dial(
            target: target, trunk: trunk, mode: mode, isTransfer: isTransfer, timeout: timeout, prompt: prompt, onFailure: onFailure)
    }

    mutating func parseRecord(_ value: YAMLNode, at: SourceLocation) -> Record? {
        if isNull(value) { return Record() }
        guard let fields = verbFields(value, verb: "record", allowed: Vocabulary.recordKeys, at: at) else { return nil }
        return Record(
            prompt: fields["prompt"].flatMap { prompts($0, key: "prompt") } ?? [],
            maxLength: fields["max-length"].flatMap { duration($0, key: "max-length") } ?? .seconds(120),
            silence: fields["silence"].flatMap { duration($0, key: "silence") } ?? .seconds(5),
            terminator: fields["terminator"].map { terminator($0) } ?? "#",
            variable: fields["variable"].flatMap { name($0, key: "variable", kind: .variable) },
            beep: fields["beep"].flatMap { bool($0, key: "beep") } ?? true,
            next: fields["next"].flatMap { nodeReference($0, key: "next") })
    }

    mutating func parseRobot(_ value: YAMLNode, at: SourceLocation) -> Robot? {
        guard let fields = verbFields(value, verb: "robot", allowed: Vocabulary.robotKeys, at: at) else { return nil }
        let scenario = fields["scenario"].flatMap { text($0, key: "scenario", expected: "a scenario name") }
        guard let fallback = required(fields, "fallback").flatMap({ nodeReference($0, key: "fallback") }) else { return nil }
        return Robot(scenario: scenario, fallback: fallback)
    }

    mutating func parseWebhook(_ value: YAMLNode, at: SourceLocation) -> Webhook? {
        guard let fields = verbFields(value, verb: "webhook", allowed: Vocabulary.webhookKeys, at: at) else { return nil }
        var method = Webhook.Method.post
        if let node = fields["method"] {
            if let text = scalarText(node), let m = Webhook.Method(rawValue: text) {
                method = m
            } else {
                error("'method' must be GET or POST", at: node)
            }
        }
        var parameters: [(name: String, value: Located<String>)] = []
        if let node = fields["parameters"] {
            if case .mapping(let mapping) = node {
                for (key, valueNode) in uniqueEntries(mapping, kind: nil) {
                    if let text = text(valueNode, key: key.value, expected: "a value") { parameters.append((key.value, text)) }
                }
            } else {
                error("'parameters' must be a mapping of names to values", at: node)
            }
        }
        let timeout = fields["timeout"].flatMap { duration($0, key: "timeout") } ?? .seconds(3)
        let prefix = fields["as"].flatMap { name($0, key: "as", kind: .variable) }?.value ?? "webhook"
        let next = fields["next"].flatMap { nodeReference($0, key: "next") }
        let url = required(fields, "url").flatMap { text($0, key: "url", expected: "a URL") }
        let onFailure = required(fields, "on-failure").flatMap { nodeReference($0, key: "on-failure") }
        guard let url, let onFailure else { return nil }
        return Webhook(url: url, method: method, parameters: parameters, timeout: timeout, prefix: prefix, next: next, onFailure: onFailure)
    }

    mutating func parseHangup(_ value: YAMLNode, at: SourceLocation) -> Hangup? {
        if isNull(value) { return Hangup() }
        guard let fields = verbFields(value, verb: "hangup", allowed: Vocabulary.hangupKeys, at: at, alternative: "nothing or ") else {
            return nil
        }
        return Hangup(prompt: fields["prompt"].flatMap { prompts($0, key: "prompt") } ?? [])
    }

    // MARK: Conditions

    mutating func parseConditions(_ node: YAMLNode) -> [Condition]? {
        guard case .mapping(let mapping) = node else {
            error("'if' must be a mapping of conditions (\(Vocabulary.conditionKeys.joined(separator: ", ")))", at: node)
            return nil
        }
        let fields = self.fields(mapping, allowed: Vocabulary.conditionKeys, context: "condition", at: location(of: node))
        var conditions: [Condition] = []
        for (key, keyNode, value) in fields.entries {
            guard let condition = ConditionKey(rawValue: key) else { continue }  // reported by fields(_:...)
            let at = location(of: keyNode)
            switch condition {
            case .time:
                let ranges = (stringList(value, key: key, expected: "\"HH:MM-HH:MM\" or a list of them") ?? []).compactMap { timeRange($0) }
                conditions.append(Condition(.time(ranges), at: at))
            case .weekday:
                let days = (stringList(value, key: key, expected: "a weekday, a range like mon-fri, or a list") ?? []).compactMap {
                    weekdays($0)
                }
                conditions.append(Condition(.weekday(days.reduce(into: Set<Int>()) { $0.formUnion($1) }), at: at))
            case .day:
                var kinds: Set<DayKind> = []
                for item in stringList(value, key: key, expected: "a day kind or a list of day kinds") ?? [] {
                    if let kind = DayKind(rawValue: item.value) {
                        kinds.insert(kind)
                    } else {
                        error(
                            "unknown day kind '\(item.value)' (\(DayKind.allCases.map(\.rawValue).joined(separator: ", ")))",
                            at: item.location)
                    }
                }
                conditions.append(Condition(.day(kinds), at: at))
            case .date:
                let ranges = (stringList(value, key: key, expected: "\"YYYY-MM-DD\", \"YYYY-MM-DD..YYYY-MM-DD\" or a list of them") ?? [])
                    .compactMap { dateRange($0) }
                conditions.append(Condition(.date(ranges), at: at))
            case .caller:
                if let pattern = regex(value, key: key) { conditions.append(Condition(.caller(pattern), at: at)) }
            case .called:
                if let pattern = regex(value, key: key) { conditions.append(Condition(.called(pattern), at: at)) }
            case .callerIn:
                if let list = name(value, key: key, kind: .list) { conditions.append(Condition(.callerIn(list), at: at)) }
            case .vars:
                conditions += variableConditions(value)
            }
        }
        return conditions
    }

    /// `HH:MM-HH:MM`; `24:00` only as the end.
    mutating func timeRange(_ text: Located<String>) -> TimeRange? {
        func minutes(_ s: Substring, isEnd: Bool) -> Int? {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                let h = Int(parts[0]), let m = Int(parts[1])
            else { return nil }
            if isEnd, h == 24, m == 0 { return 1440 }
            guard h < 24, m < 60 else { return nil }
            return h * 60 + m
        }
        let ends = text.value.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let start = minutes(ends[0], isEnd: false), let end = minutes(ends[1], isEnd: true) else {
            error("bad time range '\(text.value)' (\"HH:MM-HH:MM\", 00:00 to 24:00)", at: text.location)
            return nil
        }
        guard start != end else {
            error("empty time range '\(text.value)'", at: text.location)
            return nil
        }
        return TimeRange(start: start, end: end)
    }

    /// `mon`, `mon-fri` (may wrap: `sat-mon`) → ISO days (1 = Monday).
    mutating func weekdays(_ text: Located<String>) -> Set<Int>? {
        func day(_ s: Substring) -> Int? { Vocabulary.weekdays.firstIndex(of: String(s)).map { $0 + 1 } }
        let ends = text.value.split(separator: "-", omittingEmptySubsequences: false)
        switch ends.count {
        case 1:
            if let d = day(ends[0]) { return [d] }
        case 2:
            if let first = day(ends[0]), let last = day(ends[1]) {
                var days: Set<Int> = [first]
                var d = first
                while d != last {
                    d = d % 7 + 1
                    days.insert(d)
                }
                return days
            }
        default:
            break
        }
        error("bad weekday '\(text.value)' (mon, tue, wed, thu, fri, sat, sun, or a range like mon-fri)", at: text.location)
        return nil
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`.
    mutating func dateRange(_ text: Located<String>) -> DateRange? {
        func day(_ s: Substring) -> CalendarDay?? {
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
            else { return .none }
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
            let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard (1...12).contains(m), (1...lengths[m - 1]).contains(d) else { return .some(nil) }
            return CalendarDay(year: y, month: m, day: d)
        }
        let ends = text.value.components(separatedBy: "..")
        guard (1...2).contains(ends.count), let first = day(Substring(ends[0])), let last = day(Substring(ends[ends.count - 1])) else {
            error("bad date '\(text.value)' (\"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\")", at: text.location)
            return nil
        }
        guard let first, let last else {
            error("no such date: '\(text.value)'", at: text.location)
            return nil
        }
        guard first <= last else {
            error("date range '\(text.value)' ends before it starts", at: text.location)
            return nil
        }
        return DateRange(first: first, last: last)
    }

    /// `vars: {name: "op value"}`: one condition per variable.
    mutating func variableConditions(_ node: YAMLNode) -> [Condition] {
        guard case .mapping(let mapping) = node, !mapping.isEmpty else {
            error("'vars' must be a mapping of variables to \"op value\", like {repeat.day: \">= 2\"}", at: node)
            return []
        }
        var conditions: [Condition] = []
        // Longest operators first: "<=" before "<".
        let operators: [Comparison] = [.equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater, .matches]
        for (key, valueNode) in uniqueEntries(mapping, kind: .variable) {
            guard let text = text(valueNode, key: key.value, expected: "\"op value\" (op: ==, !=, <, <=, >, >=, ~)") else { continue }
            var comparison = Comparison.equal
            var operand = text.value
            if let op = operators.first(where: { text.value.hasPrefix($0.rawValue) }) {
                comparison = op
                operand = String(text.value.dropFirst(op.rawValue.count)).trimmingCharacters(in: .whitespaces)
            }
            switch comparison {
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                if !Vocabulary.isTemplate(operand), Double(operand) == nil {
                    error("'\(comparison.rawValue)' compares numbers: '\(operand)' is not a number", at: text.location)
                    continue
                }
            case .matches:
                if !Vocabulary.isTemplate(operand), !Vocabulary.isValidRegex(operand) {
                    error("invalid regular expression '\(operand)' in '\(key.value)'", at: text.location)
                    continue
                }
            case .equal, .notEqual:
                break
            }
            conditions.append(Condition(.variable(name: key, comparison: comparison, value: operand), at: key.location))
        }
        return conditions
    }

    // MARK: Mappings

    /// Checks a mapping's keys: scalars, among `allowed`, each once.
    mutating func fields(
        _ mapping: YAMLNode.Mapping, allowed: [String], context: String, at owner: SourceLocation, unknownPhrase: String? = nil
    )
        -> Fields
    {
        var fields = Fields(owner: owner, context: context)
        for (key, value) in mapping {
            guard let name = scalarText(key) else {
                error("keys in \(context) must be names", at: key)
                continue
            }
            guard allowed.contains(name) else {
                let what = unknownPhrase.map { "unknown \($0) '\(name)'" } ?? "unknown key '\(name)' in \(context)"
                error("\(what) (allowed: \(allowed.joined(separator: ", ")))", at: key)
                continue
            }
            if let first = fields.keyNode(name) {
                error("duplicate key '\(name)' (first at line \(location(of: first).line))", at: key)
                continue
            }
            fields.entries.append((name, key, value))
        }
        return fields
    }

    /// A verb's argument mapping; anything else is an error.
    mutating func verbFields(_ value: YAMLNode, verb: String, allowed: [String], at: SourceLocation, alternative: String = "") -> Fields? {
        guard case .mapping(let mapping) = value else {
            error("'\(verb)' must be \(alternative)a mapping (keys: \(allowed.joined(separator: ", ")))", at: value)
            return nil
        }
        return fields(mapping, allowed: allowed, context: verb, at: at)
    }

    mutating func mappingFields(_ value: YAMLNode, key: String, allowed: [String], context: String, owner: SourceLocation? = nil) -> Fields?
    {
        guard case .mapping(let mapping) = value else {
            error("'\(key)' must be a mapping (keys: \(allowed.joined(separator: ", ")))", at: value)
            return nil
        }
        return fields(mapping, allowed: allowed, context: context, at: owner ?? location(of: value))
    }

    /// A free-form mapping's entries (variables, nodes, options...): keys are scalars, names of
    /// `kind` if given, each once. Repeated keys are reported, and left out unless
    /// `includeDuplicates` (for checking what they hold).
    mutating func uniqueEntries(
        _ mapping: YAMLNode.Mapping, kind: NameKind?, duplicate: String = "duplicate key", includeDuplicates: Bool = false
    ) -> [(key: Located<String>, value: YAMLNode)] {
        var seen: [String: SourceLocation] = [:]
        var entries: [(key: Located<String>, value: YAMLNode)] = []
        for (keyNode, value) in mapping {
            guard let text = scalarText(keyNode) else {
                error("a key must be a name", at: keyNode)
                continue
            }
            let key = Located(text, at: location(of: keyNode))
            if let kind, !Vocabulary.isName(text) {
                // Reported, and kept: what it holds is checked too.
                error(badName(text, kind: kind), at: key.location)
            }
            if let first = seen[text] {
                error("\(duplicate) '\(text)' (first at line \(first.line))", at: key.location)
                if includeDuplicates { entries.append((key, value)) }
                continue
            }
            seen[text] = key.location
            entries.append((key, value))
        }
        return entries
    }

    /// A key the construct cannot do without: missing, it is an error at the construct (the verb...).
    mutating func required(_ fields: Fields, _ key: String) -> YAMLNode? {
        if let node = fields[key] { return node }
        error("missing required key '\(key)' in \(fields.context)", at: fields.owner)
        return nil
    }

    // MARK: Values

    /// A plain `~`, `null` or empty value.
    func isNull(_ node: YAMLNode) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A scalar's text; nil for null, mappings and lists.
    func scalarText(_ node: YAMLNode) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else { return nil }
        return scalar.string
    }

    /// An unquoted integer.
    func integer(_ node: YAMLNode) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return nil }
        return Int(scalar.string)
    }

    mutating func text(_ node: YAMLNode, key: String, expected: String) -> Located<String>? {
        guard let text = scalarText(node) else {
            error("'\(key)' must be \(expected)", at: node)
            return nil
        }
        return Located(text, at: location(of: node))
    }

    func badName(_ name: String, kind: NameKind) -> String {
        "invalid \(kind.rawValue) name '\(name)' (letters, digits, '_', '.', '-')"
    }

    mutating func name(_ node: YAMLNode, key: String, kind: NameKind) -> Located<String>? {
        guard let text = text(node, key: key, expected: "a \(kind.rawValue) name") else { return nil }
        guard Vocabulary.isName(text.value) else {
            error(badName(text.value, kind: kind), at: text.location)
            return nil
        }
        return text
    }

    mutating func nodeReference(_ node: YAMLNode, key: String) -> NodeReference? {
        name(node, key: key, kind: .node)
    }

    /// A scalar, or a list of scalars.
    mutating func stringList(_ node: YAMLNode, key: String, expected: String, allowEmpty: Bool = false) -> [Located<String>]? {
        switch node {
        case .scalar:
            return text(node, key: key, expected: expected).map { [$0] }
        case .sequence(let sequence):
            if sequence.isEmpty, !allowEmpty {
                error("'\(key)' must be \(expected), not an empty list", at: node)
                return nil
            }
            var items: [Located<String>] = []
            for item in sequence {
                if let text = text(item, key: key, expected: expected) { items.append(text) }
            }
            return items
        case .mapping:
            error("'\(key)' must be \(expected)", at: node)
            return nil
        }
    }

    /// A prompt name or a list of them.
    mutating func prompts(_ node: YAMLNode, key: String) -> [PromptReference]? {
        guard let names = stringList(node, key: key, expected: "a prompt name or a list of prompt names", allowEmpty: true) else {
            return nil
        }
        var prompts: [PromptReference] = []
        for name in names {
            if Vocabulary.isName(name.value) {
                prompts.append(name)
            } else {
                error(badName(name.value, kind: .prompt), at: name.location)
            }
        }
        return prompts
    }

    mutating func positiveInteger(_ node: YAMLNode, key: String) -> Int? {
        guard let value = integer(node), value > 0 else {
            error("'\(key)' must be a positive integer", at: node)
            return nil
        }
        return value
    }

    /// Seconds, integer or decimal, more than zero; kept to the millisecond.
    mutating func duration(_ node: YAMLNode, key: String) -> Duration? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
            let seconds = Double(scalar.string), seconds.isFinite, seconds > 0, seconds < 1e9
        else {
            error("'\(key)' must be a positive number of seconds", at: node)
            return nil
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    mutating func bool(_ node: YAMLNode, key: String) -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        error("'\(key)' must be true or false", at: node)
        return nil
    }

    /// One key, or `""` for none.
    mutating func terminator(_ node: YAMLNode) -> Character? {
        if let text = scalarText(node) {
            if text.isEmpty { return nil }
            if text.count == 1, let key = text.first, Vocabulary.keypadKeys.contains(key) { return key }
        }
        error("'terminator' must be one key (0-9, *, #) or \"\" for none", at: node)
        return "#"
    }

    mutating func regex(_ node: YAMLNode, key: String) -> Located<String>? {
        guard let pattern = text(node, key: key, expected: "a regular expression") else { return nil }
        guard Vocabulary.isValidRegex(pattern.value) else {
            error("invalid regular expression '\(pattern.value)' in '\(key)'", at: pattern.location)
            return nil
        }
        return pattern
    }
}

/// The YAML library's node (the model has its own `Node`).
typealias YAMLNode = Yams.Node
