import ACD
import Calls

// `queues:` and `agents:` of hotline.yaml (docs/queues.md), and their translation into the
// ACD's types.

extension HotlineConfiguration {
    struct Queue: Decodable, Sendable {
        var name: String
        var strategy = QueueStrategy.longestIdle
        /// Seconds a caller waits at most (`TIMEOUT`).
        var timeout = 600.0
        var ringTimeout = 15.0
        var wrapUp = 0.0
        var serviceLevel = 20.0
        var maxLength = 0
        var joinEmpty = true
        var leaveWhenEmpty = false
        var ringInUse = false
        var announcePosition = false
        var announceHoldTime = false
        var announceOnJoin = false
        var announceFrequency = 0.0
        /// A prompt played at each announcement (e.g. "most questions are answered at 12345.gov.cn").
        var periodicAnnounce: String?
        var handlingTime = 180.0
        var callbackKey: String?
        var callbackNode = "callback-offer"
        var abandonCallbackAfter: Double?
        var callbackAttempts = 3
        var callbackRetry = 300.0
        var overflow: [Overflow] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, strategy, timeout, ringTimeout = "ring-timeout", wrapUp = "wrapup", serviceLevel = "service-level"
            case maxLength = "max-length", joinEmpty = "join-empty", leaveWhenEmpty = "leave-when-empty", ringInUse = "ring-in-use"
            case announcePosition = "announce-position", announceHoldTime = "announce-holdtime", announceOnJoin = "announce-on-join"
            case announceFrequency = "announce-frequency", periodicAnnounce = "periodic-announce", handlingTime = "handling-time", callbackKey = "callback-key"
            case callbackNode = "callback-node", abandonCallbackAfter = "abandon-callback-after"
            case callbackAttempts = "callback-attempts", callbackRetry = "callback-retry", overflow
        }
    }

    /// `{when: {predicted-wait: 120}, to: {node: policy-robot}}`, `to: callback`.
    struct Overflow: Decodable, Sendable {
        var condition: OverflowCondition
        var target: OverflowTarget
        enum CodingKeys: String, CodingKey, CaseIterable { case when, to }
        enum WhenKeys: String, CodingKey, CaseIterable {
            case predictedWait = "predicted-wait", waited, length, availableAgents = "available-agents"
        }
        enum TargetKeys: String, CodingKey, CaseIterable { case node, queue }
    }

    struct Agent: Decodable, Sendable {
        var id: String
        var name = ""
        var seat: String?
        var skills: [String: Int] = [:]
        /// Queue → penalty (a plain list means penalty 0).
        var queues: [String: Int] = [:]
        var maxNoAnswer = 3
        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, name, seat, skills, queues, maxNoAnswer = "max-no-answer"
        }
    }
}

extension HotlineConfiguration.Queue {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        if let s = try c.decodeIfPresent(String.self, forKey: .strategy) {
            guard let strategy = QueueStrategy(rawValue: s) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .strategy, in: c,
                    debugDescription: "unknown strategy '\(s)' (one of \(QueueStrategy.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            self.strategy = strategy
        }
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? timeout
        ringTimeout = try c.decodeIfPresent(Double.self, forKey: .ringTimeout) ?? ringTimeout
        wrapUp = try c.decodeIfPresent(Double.self, forKey: .wrapUp) ?? wrapUp
        serviceLevel = try c.decodeIfPresent(Double.self, forKey: .serviceLevel) ?? serviceLevel
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? maxLength
        joinEmpty = try c.decodeIfPresent(Bool.self, forKey: .joinEmpty) ?? joinEmpty
        leaveWhenEmpty = try c.decodeIfPresent(Bool.self, forKey: .leaveWhenEmpty) ?? leaveWhenEmpty
        ringInUse = try c.decodeIfPresent(Bool.self, forKey: .ringInUse) ?? ringInUse
        announcePosition = try c.decodeIfPresent(Bool.self, forKey: .announcePosition) ?? announcePosition
        announceHoldTime = try c.decodeIfPresent(Bool.self, forKey: .announceHoldTime) ?? announceHoldTime
        announceOnJoin = try c.decodeIfPresent(Bool.self, forKey: .announceOnJoin) ?? announceOnJoin
        announceFrequency = try c.decodeIfPresent(Double.self, forKey: .announceFrequency) ?? announceFrequency
        periodicAnnounce = try c.decodeIfPresent(String.self, forKey: .periodicAnnounce)
        handlingTime = try c.decodeIfPresent(Double.self, forKey: .handlingTime) ?? handlingTime
        callbackKey = try c.decodeIfPresent(String.self, forKey: .callbackKey)
        callbackNode = try c.decodeIfPresent(String.self, forKey: .callbackNode) ?? callbackNode
        abandonCallbackAfter = try c.decodeIfPresent(Double.self, forKey: .abandonCallbackAfter)
        callbackAttempts = try c.decodeIfPresent(Int.self, forKey: .callbackAttempts) ?? callbackAttempts
        callbackRetry = try c.decodeIfPresent(Double.self, forKey: .callbackRetry) ?? callbackRetry
        overflow = try c.decodeIfPresent([HotlineConfiguration.Overflow].self, forKey: .overflow) ?? []
    }

    var acd: QueueConfiguration {
        QueueConfiguration(
            name: name, strategy: strategy, maxLength: maxLength, joinWhenEmpty: joinEmpty, leaveWhenEmpty: leaveWhenEmpty,
            timeout: .seconds(timeout), ringTimeout: .seconds(ringTimeout), wrapUp: .seconds(wrapUp), serviceLevel: .seconds(serviceLevel),
            ringInUse: ringInUse, announcePosition: announcePosition, announceHoldTime: announceHoldTime,
            announceFrequency: .seconds(announceFrequency), defaultHandlingTime: .seconds(handlingTime),
            overflow: overflow.map { OverflowRule($0.condition, to: $0.target) },
            abandonCallbackAfter: abandonCallbackAfter.map { .seconds($0) }, callbackAttempts: callbackAttempts,
            callbackRetryDelay: .seconds(callbackRetry))
    }

    var announcements: QueueAnnouncements {
        QueueAnnouncements(position: announcePosition, holdTime: announceHoldTime, announceOnJoin: announceOnJoin,
                           periodicPrompt: periodicAnnounce,
                           callbackKey: callbackKey?.first, callbackNode: callbackNode)
    }

    func problems(index: Int, queueNames: Set<String>) -> [String] {
        var problems: [String] = []
        let at = "queues[\(index)] (\(name))"
        if timeout <= 0 { problems.append("\(at).timeout must be positive") }
        if ringTimeout <= 0 { problems.append("\(at).ring-timeout must be positive") }
        if wrapUp < 0 || serviceLevel < 0 || announceFrequency < 0 || callbackRetry < 0 {
            problems.append("\(at): wrapup, service-level, announce-frequency and callback-retry must not be negative")
        }
        if handlingTime <= 0 { problems.append("\(at).handling-time must be positive") }
        if maxLength < 0 { problems.append("\(at).max-length must be 0 (no limit) or positive") }
        if callbackAttempts < 1 { problems.append("\(at).callback-attempts must be at least 1") }
        if let key = callbackKey, key.count != 1 || !"0123456789*#".contains(key) {
            problems.append("\(at).callback-key '\(key)' must be one key: 0-9, * or #")
        }
        if let after = abandonCallbackAfter, after < 0 { problems.append("\(at).abandon-callback-after must not be negative") }
        for (i, rule) in overflow.enumerated() {
            if case .queue(let target) = rule.target {
                if target == name { problems.append("\(at).overflow[\(i)].to: a queue cannot overflow to itself") }
                else if !queueNames.contains(target) { problems.append("\(at).overflow[\(i)].to: unknown queue '\(target)'") }
            }
        }
        return problems
    }
}

extension HotlineConfiguration.Overflow {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let when = try c.nestedContainer(keyedBy: WhenKeys.self, forKey: .when)
        guard when.allKeys.count == 1, let key = when.allKeys.first else {
            throw DecodingError.dataCorruptedError(
                forKey: .when, in: c, debugDescription: "give exactly one of predicted-wait, waited (seconds), length, available-agents")
        }
        switch key {
        case .predictedWait: condition = .predictedWait(above: .seconds(try when.decode(Double.self, forKey: key)))
        case .waited: condition = .waited(atLeast: .seconds(try when.decode(Double.self, forKey: key)))
        case .length: condition = .length(above: try when.decode(Int.self, forKey: key))
        case .availableAgents: condition = .availableAgents(atMost: try when.decode(Int.self, forKey: key))
        }
        if let word = try? c.decode(String.self, forKey: .to) {
            guard word == "callback" else {
                throw DecodingError.dataCorruptedError(forKey: .to, in: c, debugDescription: "'\(word)': use callback, {node: NAME} or {queue: NAME}")
            }
            target = .callback
        } else {
            let to = try c.nestedContainer(keyedBy: TargetKeys.self, forKey: .to)
            if let node = try to.decodeIfPresent(String.self, forKey: .node) {
                target = .node(node)
            } else if let queue = try to.decodeIfPresent(String.self, forKey: .queue) {
                target = .queue(queue)
            } else {
                throw DecodingError.dataCorruptedError(forKey: .to, in: c, debugDescription: "give callback, {node: NAME} or {queue: NAME}")
            }
        }
    }
}

extension HotlineConfiguration.Agent {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        seat = try c.decodeIfPresent(String.self, forKey: .seat)
        skills = try c.decodeIfPresent([String: Int].self, forKey: .skills) ?? [:]
        if let list = try? c.decode([String].self, forKey: .queues) {
            queues = Dictionary(list.map { ($0, 0) }, uniquingKeysWith: { a, _ in a })
        } else {
            queues = try c.decodeIfPresent([String: Int].self, forKey: .queues) ?? [:]
        }
        maxNoAnswer = try c.decodeIfPresent(Int.self, forKey: .maxNoAnswer) ?? maxNoAnswer
    }

    var profile: AgentProfile {
        AgentProfile(id: id, name: name, skills: skills, queues: queues, seat: seat, maxNoAnswer: maxNoAnswer)
    }

    func problems(index: Int, queueNames: Set<String>) -> [String] {
        var problems: [String] = []
        let at = "agents[\(index)] (\(id))"
        if id.isEmpty { problems.append("agents[\(index)].id must not be empty") }
        if queues.isEmpty { problems.append("\(at).queues: name at least one queue") }
        for q in queues.keys.sorted() where !queueNames.contains(q) { problems.append("\(at).queues: unknown queue '\(q)'") }
        if maxNoAnswer < 0 { problems.append("\(at).max-no-answer must be 0 (never) or positive") }
        for (skill, level) in skills.sorted(by: { $0.key < $1.key }) where level < 0 {
            problems.append("\(at).skills.\(skill) must not be negative")
        }
        return problems
    }
}
