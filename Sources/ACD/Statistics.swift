/// Queue and agent statistics: totals since start and sliding windows (per-minute buckets),
/// the figures a 12345 centre reports: answer rate, service level, abandon rate, average speed
/// of answer, occupancy.

/// Counts for one queue over some period.
public struct QueueCounters: Sendable, Equatable {
    /// Callers who joined (a rejoin after the robot counts again).
    public var joined = 0
    public var answered = 0
    public var answeredWithinServiceLevel = 0
    public var abandoned = 0
    /// Abandoned within the service level (often excluded from abandon rates).
    public var abandonedWithinServiceLevel = 0
    public var timedOut = 0
    public var refused = 0   // FULL, JOINEMPTY
    public var leftEmpty = 0
    public var overflowed = 0
    /// Overflowed to a dialplan node (the voice robot): served, for the answer rate.
    public var overflowedToRobot = 0
    public var callbacksScheduled = 0
    public var totalAnswerWaitMs: Int64 = 0
    public var totalAbandonWaitMs: Int64 = 0
    public var longestAnswerWaitMs: Int64 = 0

    public init() {}

    mutating func add(_ o: QueueCounters) {
        joined += o.joined
        answered += o.answered
        answeredWithinServiceLevel += o.answeredWithinServiceLevel
        abandoned += o.abandoned
        abandonedWithinServiceLevel += o.abandonedWithinServiceLevel
        timedOut += o.timedOut
        refused += o.refused
        leftEmpty += o.leftEmpty
        overflowed += o.overflowed
        overflowedToRobot += o.overflowedToRobot
        callbacksScheduled += o.callbacksScheduled
        totalAnswerWaitMs += o.totalAnswerWaitMs
        totalAbandonWaitMs += o.totalAbandonWaitMs
        longestAnswerWaitMs = max(longestAnswerWaitMs, o.longestAnswerWaitMs)
    }

    /// Callers whose time in the queue ended (answered, robot, abandoned, timed out, left).
    public var ended: Int { answered + overflowed + abandoned + timedOut + leftEmpty }
    /// Answered by an agent or the robot, of those who ended.
    public var answerRate: Double? { ended > 0 ? Double(answered + overflowedToRobot) / Double(ended) : nil }
    /// Answered by an agent within the service level, of answered + abandoned after it.
    public var serviceLevel: Double? {
        let base = answered + abandoned - abandonedWithinServiceLevel
        return base > 0 ? Double(answeredWithinServiceLevel) / Double(base) : nil
    }
    public var abandonRate: Double? { ended > 0 ? Double(abandoned) / Double(ended) : nil }
    /// Average speed of answer, seconds.
    public var averageSpeedOfAnswer: Double? { answered > 0 ? Double(totalAnswerWaitMs) / Double(answered) / 1000 : nil }
}

/// Totals plus one bucket per minute for the last hour.
struct WindowedCounters: Sendable {
    private(set) var total = QueueCounters()
    private var buckets: [(minute: Int64, counters: QueueCounters)] = []

    mutating func record(at now: ACDInstant, _ change: (inout QueueCounters) -> Void) {
        change(&total)
        let minute = now.milliseconds / 60_000
        if buckets.last?.minute != minute {
            buckets.append((minute, QueueCounters()))
            if buckets.count > 60 { buckets.removeFirst(buckets.count - 60) }
        }
        change(&buckets[buckets.count - 1].counters)
    }

    /// The last `minutes` minutes (the current one included).
    func window(minutes: Int, at now: ACDInstant) -> QueueCounters {
        let from = now.milliseconds / 60_000 - Int64(minutes) + 1
        var sum = QueueCounters()
        for b in buckets where b.minute >= from { sum.add(b.counters) }
        return sum
    }
}

/// Time an agent spent in each state (for occupancy).
public struct AgentTimes: Sendable, Equatable {
    public var readyMs: Int64 = 0
    public var reservedMs: Int64 = 0
    public var onCallMs: Int64 = 0
    public var wrapUpMs: Int64 = 0
    public var notReadyMs: Int64 = 0
    public init() {}

    mutating func add(_ state: AgentState, ms: Int64) {
        switch state {
        case .loggedOut: break
        case .ready: readyMs += ms
        case .reserved: reservedMs += ms
        case .onCall: onCallMs += ms
        case .wrapUp: wrapUpMs += ms
        case .notReady: notReadyMs += ms
        }
    }

    /// Busy (talking, wrap-up, ringing) over available time; not-ready time is excluded.
    public var occupancy: Double? {
        let busy = onCallMs + wrapUpMs + reservedMs
        let available = busy + readyMs
        return available > 0 ? Double(busy) / Double(available) : nil
    }
}

/// A queue as the API and `/metrics` show it.
public struct QueueSnapshot: Sendable, Equatable {
    public struct Waiting: Sendable, Equatable {
        public var entry: EntryID
        public var position: Int
        public var priority: Int
        public var caller: String
        public var waited: Duration
        public var offered: Bool
        public var callback: Bool
    }
    public var name: String
    public var strategy: QueueStrategy
    public var waiting: [Waiting]
    public var longestWait: Duration
    public var agentsLoggedIn: Int
    public var agentsReady: Int
    public var agentsOnCall: Int
    /// The predicted wait of a caller joining now.
    public var predictedWait: Duration?
    public var averageHandlingTime: Duration
    public var total: QueueCounters
    public var last15Minutes: QueueCounters
    public var lastHour: QueueCounters
}

public struct AgentSnapshot: Sendable, Equatable {
    public var profile: AgentProfile
    public var state: AgentState
    public var since: ACDInstant
    public var seat: String?
    /// A change asked for during a call, applied when it ends ("not-ready: lunch", "logged-out").
    public var pending: String?
    public var consecutiveNoAnswer: Int
    public var answered: Int
    public var times: AgentTimes
}
