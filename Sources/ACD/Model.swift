/// The ACD's vocabulary: agents, queues, callers in queues (entries), offers and their
/// outcomes. Everything here is plain data; `ACD` is the state machine that uses it.

/// A point on the ACD's clock, in milliseconds. The ACD never reads a clock: every command
/// carries `now`, so tests and `hotline simulate` drive it with a virtual clock.
public struct ACDInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static let zero = ACDInstant(milliseconds: 0)
    public static func < (a: ACDInstant, b: ACDInstant) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: ACDInstant, d: Duration) -> ACDInstant { ACDInstant(milliseconds: a.milliseconds + d.acdMilliseconds) }
    public static func - (a: ACDInstant, b: ACDInstant) -> Duration { .milliseconds(a.milliseconds - b.milliseconds) }
    public var description: String { "\(milliseconds)ms" }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    public var acdMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
    var acdSeconds: Double { Double(acdMilliseconds) / 1000 }
}

public typealias AgentID = String
/// A caller's place in a queue is named by the call id (a callback keeps the call's id).
public typealias EntryID = String

/// How a queue picks among its ready agents (Asterisk app_queue names where they exist).
public enum QueueStrategy: String, Sendable, CaseIterable, Codable {
    /// Offer to every eligible ready agent at once; the first to answer wins.
    case ringall
    /// The agent who has been waiting for a call the longest (since their last call ended).
    case longestIdle = "longest-idle"
    /// Take turns in member order, starting after the agent offered last.
    case roundRobin = "round-robin"
    /// The agent who answered the fewest calls from this queue.
    case fewestCalls = "fewest-calls"
    case random
    /// The agent with the highest level in the caller's skills (ties: longest idle).
    case skills
}

/// Why a caller left a queue (Asterisk's `QUEUESTATUS` plus `ANSWERED`).
public enum ExitReason: String, Sendable, Codable, CaseIterable {
    case answered = "ANSWERED"
    case timeout = "TIMEOUT"
    case full = "FULL"
    case joinEmpty = "JOINEMPTY"
    case leaveEmpty = "LEAVEEMPTY"
    case overflow = "OVERFLOW"
    case abandon = "ABANDON"
}

/// A skill the caller needs: an agent qualifies with at least `minimumLevel` in it.
public struct SkillRequirement: Hashable, Sendable {
    public var name: String
    public var minimumLevel: Int
    public init(_ name: String, minimumLevel: Int = 1) {
        self.name = name
        self.minimumLevel = minimumLevel
    }
    /// `elderly` or `elderly:3`.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, !name.isEmpty else { return nil }
        if parts.count == 2 {
            guard let level = Int(parts[1]), level >= 0 else { return nil }
            self.init(name, minimumLevel: level)
        } else {
            self.init(name)
        }
    }
}

/// When a queue sends a caller elsewhere. Each rule fires at most once per caller and queue,
/// so a caller who comes back from the robot is not sent straight back to it.
public enum OverflowCondition: Hashable, Sendable {
    /// The predicted wait at join (or later, while waiting) is above this.
    case predictedWait(above: Duration)
    /// The caller has waited this long.
    case waited(atLeast: Duration)
    /// More than this many callers wait (at join).
    case length(above: Int)
    /// No more than this many agents are ready (0: every agent is busy or away).
    case availableAgents(atMost: Int)
}

public enum OverflowTarget: Hashable, Sendable, CustomStringConvertible {
    /// Another queue: the caller moves with their original place and priority.
    case queue(String)
    /// A node of the caller's dialplan (the voice robot, voicemail...). A caller who comes
    /// back to this queue unanswered gets their original place back.
    case node(String)
    /// Offer a call back (the dialplan's `callback` node decides; the place is kept).
    case callback

    public var description: String {
        switch self {
        case .queue(let q): "queue:\(q)"
        case .node(let n): "node:\(n)"
        case .callback: "callback"
        }
    }
}

public struct OverflowRule: Hashable, Sendable {
    public var condition: OverflowCondition
    public var target: OverflowTarget
    public init(_ condition: OverflowCondition, to target: OverflowTarget) {
        self.condition = condition
        self.target = target
    }
}

/// A queue's settings (`queues:` in the config).
public struct QueueConfiguration: Sendable, Equatable {
    public var name: String
    public var strategy: QueueStrategy
    /// Callers waiting at most (0: no limit); beyond, `FULL`.
    public var maxLength: Int
    /// Accept callers when no member is logged in and available (ready, on a call or in
    /// wrap-up); false: `JOINEMPTY`.
    public var joinWhenEmpty: Bool
    /// Send waiting callers away (`LEAVEEMPTY`) once no member is logged in and available.
    public var leaveWhenEmpty: Bool
    /// Longest wait before `TIMEOUT`.
    public var timeout: Duration
    /// How long an offer rings before it counts as not answered.
    public var ringTimeout: Duration
    /// After a call from this queue the agent takes no call from any queue for this long.
    public var wrapUp: Duration
    /// Answered within this wait counts as within the service level.
    public var serviceLevel: Duration
    /// Offer to agents whose seat is busy with a call that is not from a queue.
    public var ringInUse: Bool
    /// Announce to each waiting caller every `announceFrequency` (zero: never): their place and
    /// predicted wait when `announcePosition` / `announceHoldTime`, and whatever else the
    /// runtime plays then (the periodic announcement).
    public var announcePosition: Bool
    public var announceHoldTime: Bool
    public var announceFrequency: Duration
    /// The handling time assumed before any call was measured (predicted wait).
    public var defaultHandlingTime: Duration
    public var overflow: [OverflowRule]
    /// A caller who hangs up after waiting at least this long is called back automatically
    /// (missed-call callback), keeping their place; nil: never.
    public var abandonCallbackAfter: Duration?
    /// Attempts to reach a caller for a callback, and the pause between them.
    public var callbackAttempts: Int
    public var callbackRetryDelay: Duration

    public init(
        name: String, strategy: QueueStrategy = .longestIdle, maxLength: Int = 0, joinWhenEmpty: Bool = true,
        leaveWhenEmpty: Bool = false, timeout: Duration = .seconds(300), ringTimeout: Duration = .seconds(15),
        wrapUp: Duration = .zero, serviceLevel: Duration = .seconds(20), ringInUse: Bool = false,
        announcePosition: Bool = false, announceHoldTime: Bool = false, announceFrequency: Duration = .zero,
        defaultHandlingTime: Duration = .seconds(180), overflow: [OverflowRule] = [], abandonCallbackAfter: Duration? = nil,
        callbackAttempts: Int = 3, callbackRetryDelay: Duration = .seconds(300)
    ) {
        self.name = name
        self.strategy = strategy
        self.maxLength = maxLength
        self.joinWhenEmpty = joinWhenEmpty
        self.leaveWhenEmpty = leaveWhenEmpty
        self.timeout = timeout
        self.ringTimeout = ringTimeout
        self.wrapUp = wrapUp
        self.serviceLevel = serviceLevel
        self.ringInUse = ringInUse
        self.announcePosition = announcePosition
        self.announceHoldTime = announceHoldTime
        self.announceFrequency = announceFrequency
        self.defaultHandlingTime = defaultHandlingTime
        self.overflow = overflow
        self.abandonCallbackAfter = abandonCallbackAfter
        self.callbackAttempts = callbackAttempts
        self.callbackRetryDelay = callbackRetryDelay
    }
}

/// An agent: a person who logs in at a seat (`agents:` in the config).
public struct AgentProfile: Sendable, Equatable {
    public var id: AgentID
    public var name: String
    /// Skill name → level (higher is better).
    public var skills: [String: Int]
    /// Queue name → penalty (lower is offered first).
    public var queues: [String: Int]
    /// The seat (account) the agent usually sits at: `*90` from it logs this agent in.
    public var seat: String?
    /// Consecutive unanswered offers that put the agent not-ready (0: never).
    public var maxNoAnswer: Int

    public init(id: AgentID, name: String = "", skills: [String: Int] = [:], queues: [String: Int], seat: String? = nil,
                maxNoAnswer: Int = 3) {
        self.id = id
        self.name = name.isEmpty ? id : name
        self.skills = skills
        self.queues = queues
        self.seat = seat
        self.maxNoAnswer = maxNoAnswer
    }

    public func qualifies(for skills: [SkillRequirement]) -> Bool {
        skills.allSatisfy { (self.skills[$0.name] ?? -1) >= $0.minimumLevel && self.skills[$0.name] != nil }
    }

    func level(in skills: [SkillRequirement]) -> Int {
        skills.reduce(0) { $0 + (self.skills[$1.name] ?? 0) }
    }
}

/// An agent's state (the desk shows it; the ACD offers calls only to `ready` agents).
public enum AgentState: Hashable, Sendable {
    case loggedOut
    case ready
    /// Offered a call: their phone rings.
    case reserved(entry: EntryID)
    case onCall(entry: EntryID)
    /// After a queue call: no new call until `until` (or until the agent says ready).
    case wrapUp(until: ACDInstant)
    /// Away: break, training, after a hard call... (`reason`).
    case notReady(reason: String)

    /// The name used by the API, events and metrics.
    public var name: String {
        switch self {
        case .loggedOut: "logged-out"
        case .ready: "ready"
        case .reserved: "reserved"
        case .onCall: "on-call"
        case .wrapUp: "wrap-up"
        case .notReady: "not-ready"
        }
    }

    public static let names = ["logged-out", "ready", "reserved", "on-call", "wrap-up", "not-ready"]
}

/// What a caller in a queue is: a caller on the line, or a call back we owe them.
public enum EntryKind: Hashable, Sendable {
    case caller
    /// Called back when their turn comes: `number` is dialled once an agent took the offer.
    case callback(number: String)
}

/// A caller's request to join a queue.
public struct JoinRequest: Sendable, Equatable {
    public var entry: EntryID
    public var queue: String
    /// Higher first (the sample plan: elderly callers 9, repeat callers 5).
    public var priority: Int
    public var skills: [SkillRequirement]
    public var caller: String
    /// What the agent's desk shows (IVR path, ticket, repeat count...).
    public var context: [String: String]
    /// This caller's longest wait (the dialplan's `enqueue.timeout`); nil: the queue's.
    public var timeout: Duration?
    public init(entry: EntryID, queue: String, priority: Int = 0, skills: [SkillRequirement] = [], caller: String = "",
                context: [String: String] = [:], timeout: Duration? = nil) {
        self.timeout = timeout
        self.entry = entry
        self.queue = queue
        self.priority = priority
        self.skills = skills
        self.caller = caller
        self.context = context
    }
}

public typealias OfferID = UInt64

/// One agent's phone ringing for one caller.
public struct Offer: Hashable, Sendable {
    public var id: OfferID
    public var entry: EntryID
    public var queue: String
    public var agent: AgentID
    public var seat: String
    public var kind: EntryKind
    public var caller: String
    public var context: [String: String]
    public var startedAt: ACDInstant
    public var deadline: ACDInstant
}

/// How an offer ended without an answer.
public enum OfferFailure: String, Sendable, Codable {
    /// Rang until the ring timeout (or the phone said 408/480).
    case noAnswer = "no-answer"
    /// The agent declined (486/603).
    case rejected
    /// The seat is not registered or did not respond at all.
    case unreachable
}

/// Why an offer is withdrawn by the ACD (the runtime cancels the INVITE).
public enum OfferWithdrawal: String, Sendable {
    /// Another agent answered the same caller (ringall).
    case answeredElsewhere = "answered-elsewhere"
    /// The caller left (hung up, timeout, overflow, supervisor move).
    case callerLeft = "caller-left"
    /// Rang too long.
    case ringTimeout = "ring-timeout"
    /// The agent logged out or went not-ready while ringing.
    case agentUnavailable = "agent-unavailable"
}

/// What the ACD asks the runtime to do, in order.
public enum ACDAction: Hashable, Sendable {
    case joined(entry: EntryID, queue: String, position: Int, predictedWait: Duration?)
    /// Ring `offer.agent` at `offer.seat`.
    case offer(Offer)
    case withdraw(Offer, reason: OfferWithdrawal)
    /// The caller left the queue (`overflow` names where to, for `OVERFLOW`).
    case left(entry: EntryID, queue: String, reason: ExitReason, waited: Duration, overflow: OverflowTarget?)
    /// Tell the caller where they are.
    case announce(entry: EntryID, queue: String, position: Int, predictedWait: Duration?)
    /// A caller left but is owed a call back (asked for, or missed-call callback).
    case callbackScheduled(entry: EntryID, queue: String, number: String)
    /// A callback is given up (no more attempts).
    case callbackAbandoned(entry: EntryID, queue: String, number: String)
    case agentStateChanged(agent: AgentID, from: AgentState, to: AgentState, reason: String?)
}

/// Why an API or phone request on an agent was refused (HTTP 404/409).
public enum ACDError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownAgent(AgentID)
    case unknownQueue(String)
    case unknownEntry(EntryID)
    /// Not allowed in the agent's state: `reason` says why, for the 409 body.
    case illegalTransition(agent: AgentID, from: String, to: String, reason: String)
    case seatTaken(seat: String, by: AgentID)
    /// The seat (account) has no registered phone to ring.
    case seatNotRegistered(String)

    public var description: String {
        switch self {
        case .unknownAgent(let a): "unknown agent \(a)"
        case .unknownQueue(let q): "unknown queue \(q)"
        case .unknownEntry(let e): "no caller \(e) in a queue"
        case .illegalTransition(let a, let from, let to, let reason): "agent \(a) cannot go from \(from) to \(to): \(reason)"
        case .seatTaken(let seat, let by): "seat \(seat) is taken by agent \(by)"
        case .seatNotRegistered(let seat): "seat \(seat) is not registered: register the phone first"
        }
    }
}
