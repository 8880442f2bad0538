/// A day of traffic on a virtual clock: callers arrive (Poisson, with a daily profile), wait,
/// hang up when their patience runs out, go to the voice robot when a queue overflows and
/// sometimes come back; agents log in for their shifts, answer after a short ring (or not),
/// talk, wrap up. Drives the real `ACD`, so the figures are what its decisions give.
/// Pure: no clock, no I/O; the same scenario and seed give the same report.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct CitySimulation: Sendable {
    public struct Shift: Sendable, Equatable {
        /// Hours of the day, [start, end).
        public var start: Double
        public var end: Double
        public init(_ start: Double, _ end: Double) {
            self.start = start
            self.end = end
        }
    }

    public struct Agent: Sendable, Equatable {
        public var profile: AgentProfile
        public var shifts: [Shift]
        public init(_ profile: AgentProfile, shifts: [Shift]) {
            self.profile = profile
            self.shifts = shifts
        }
    }

    public struct Scenario: Sendable, Equatable {
        public var queues: [QueueConfiguration]
        /// The queue callers join.
        public var entryQueue: String
        public var agents: [Agent]
        /// Expected arrivals in each hour of the day (24 values).
        public var arrivalsPerHour: [Double]
        /// Talk time: log-normal with this mean (seconds) and σ of its logarithm.
        public var talkTimeMean: Double
        public var talkTimeSigma: Double
        /// Patience in the queue: exponential with this mean (seconds); the robot's caller who
        /// comes back gets a fresh one.
        public var patienceMean: Double
        /// Agents answer after a ring of this many seconds (uniform)...
        public var ringTime: ClosedRange<Double>
        /// ...except this share of offers, which ring until the ring timeout.
        public var noAnswerShare: Double
        /// Agents put not-ready by missed offers come back after this many seconds.
        public var notReadyPause: Double
        /// Callers with a priority (the elderly), and the priority they get.
        public var priorityShare: Double
        public var priority: Int
        /// Of the callers sent to a dialplan node (the robot), the share it resolves; the others
        /// come back to the queue after the robot's talk time (exponential mean, seconds).
        public var robotResolution: Double
        public var robotTalkTimeMean: Double
        /// Callbacks: share of citizens who answer when called back.
        public var callbackReach: Double
        public var seed: UInt64

        public init(
            queues: [QueueConfiguration], entryQueue: String, agents: [Agent], arrivalsPerHour: [Double],
            talkTimeMean: Double = 200, talkTimeSigma: Double = 0.6, patienceMean: Double = 240, ringTime: ClosedRange<Double> = 2...8,
            noAnswerShare: Double = 0.03, notReadyPause: Double = 120, priorityShare: Double = 0.08, priority: Int = 9,
            robotResolution: Double = 0.55, robotTalkTimeMean: Double = 90, callbackReach: Double = 0.7, seed: UInt64 = 12345
        ) {
            precondition(arrivalsPerHour.count == 24, "24 hourly arrival rates")
            self.queues = queues
            self.entryQueue = entryQueue
            self.agents = agents
            self.arrivalsPerHour = arrivalsPerHour
            self.talkTimeMean = talkTimeMean
            self.talkTimeSigma = talkTimeSigma
            self.patienceMean = patienceMean
            self.ringTime = ringTime
            self.noAnswerShare = noAnswerShare
            self.notReadyPause = notReadyPause
            self.priorityShare = priorityShare
            self.priority = priority
            self.robotResolution = robotResolution
            self.robotTalkTimeMean = robotTalkTimeMean
            self.callbackReach = callbackReach
            self.seed = seed
        }

        public var callsPerDay: Double { arrivalsPerHour.reduce(0, +) }
    }

    /// The daily shape of a 12345 line: quiet at night, peaks 9–11 h and 14–16 h.
    public static let cityDayProfile: [Double] = [
        0.40, 0.25, 0.20, 0.15, 0.15, 0.30, 0.80, 2.50, 6.50, 9.50, 9.80, 7.00,
        4.50, 5.50, 8.50, 8.80, 7.00, 4.50, 3.00, 2.50, 2.00, 1.50, 1.00, 0.60,
    ]

    /// A mid-size city's 12345 line: 8,000 calls a day, 60 agents in five shifts (no breaks), one general
    /// queue that sends callers to the voice robot when the predicted wait is over 120 s;
    /// elderly callers (8 %) have priority 9.
    public static func sampleCityDay(callsPerDay: Double = 8_000, agents: Int = 60, seed: UInt64 = 12345) -> Scenario {
        let general = QueueConfiguration(
            name: "general", strategy: .longestIdle, timeout: .seconds(900), ringTimeout: .seconds(15), wrapUp: .seconds(20),
            serviceLevel: .seconds(20), announcePosition: true, announceHoldTime: true, announceFrequency: .seconds(60),
            defaultHandlingTime: .seconds(220), overflow: [OverflowRule(.predictedWait(above: .seconds(120)), to: .node("robot"))])
        // Shares of the staff per shift: night, early, day, late, evening.
        let shifts: [(share: Double, shifts: [Shift])] = [
            (0.05, [Shift(0, 8)]), (0.37, [Shift(7.5, 16)]), (0.32, [Shift(8.5, 17.5)]), (0.18, [Shift(13, 22)]), (0.08, [Shift(17, 24)]),
        ]
        var staff: [Agent] = []
        var assigned = 0
        for (index, shift) in shifts.enumerated() {
            let count = index == shifts.count - 1 ? agents - assigned : Int((Double(agents) * shift.share).rounded())
            for _ in 0..<max(0, count) {
                let id = "a\(staff.count + 1)"
                staff.append(Agent(AgentProfile(id: id, queues: ["general": 0], seat: "s\(staff.count + 1)"), shifts: shift.shifts))
            }
            assigned += max(0, count)
        }
        let scale = callsPerDay / cityDayProfile.reduce(0, +)
        return Scenario(queues: [general], entryQueue: "general", agents: staff, arrivalsPerHour: cityDayProfile.map { $0 * scale },
                        seed: seed)
    }

    public var scenario: Scenario
    public init(_ scenario: Scenario) { self.scenario = scenario }

    // MARK: Running

    private enum Event {
        case arrival
        case patience(EntryID, visit: Int)
        case answer(OfferID)
        case callEnd(AgentID)
        case callbackResult(EntryID, AgentID)
        case robotDone(EntryID)
        case shiftStart(AgentID)
        case shiftEnd(AgentID)
        case agentBack(AgentID)
        case tick
    }

    private enum Phase { case waiting, robot, talking, done }

    private struct Caller {
        var arrival: Int64
        var hour: Int
        var visit = 0
        var phase = Phase.waiting
        var waitedMs: Int64 = 0
        var toRobot = false
    }

    private struct Run {
        let scenario: Scenario
        var acd: ACD
        var rng: SplitMix64
        var events = EventQueue<Event>()
        var now: Int64 = 0
        var callers: [EntryID: Caller] = [:]
        var offers: [OfferID: Offer] = [:]
        var onShift: Set<AgentID> = []
        var scheduledTicks: Set<Int64> = []
        var lastTick: Int64 = -1
        var nextCaller = 0
        var report = SimulationReport()
        let serviceLevelMs: Int64

        init(_ scenario: Scenario) {
            self.scenario = scenario
            acd = ACD(queues: scenario.queues, agents: scenario.agents.map(\.profile), seed: scenario.seed)
            rng = SplitMix64(seed: scenario.seed ^ 0x5EED_CA11)
            serviceLevelMs = scenario.queues.first { $0.name == scenario.entryQueue }?.serviceLevel.acdMilliseconds ?? 20_000
            report.hours = (0..<24).map { SimulationReport.Hour(hour: $0) }
        }

        // Random draws.
        mutating func uniform() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
        mutating func exponential(mean: Double) -> Double { -mean * log(1 - uniform()) }
        mutating func logNormal(mean: Double, sigma: Double) -> Double {
            let normal = (-2 * log(1 - uniform())).squareRoot() * cos(2 * Double.pi * uniform())
            return exp(log(mean) - sigma * sigma / 2 + sigma * normal)
        }
        static func ms(_ seconds: Double) -> Int64 { Int64((seconds * 1000).rounded()) }
        var instant: ACDInstant { ACDInstant(milliseconds: now) }

        mutating func schedule(in seconds: Double, _ event: Event) { events.push(now + Self.ms(seconds), event) }

        mutating func run() -> SimulationReport {
            for agent in scenario.agents {
                for shift in agent.shifts {
                    events.push(Self.ms(shift.start * 3600), .shiftStart(agent.profile.id))
                    events.push(Self.ms(shift.end * 3600), .shiftEnd(agent.profile.id))
                }
            }
            for hour in 0..<24 {
                let middle = Double(hour) + 0.5
                report.hours[hour].agentsOnShift = scenario.agents.filter { $0.shifts.contains { $0.start <= middle && middle < $0.end } }.count
            }
            scheduleNextArrival(from: 0)
            let end = Self.ms(30 * 3600)   // the day, then the last callers drain
            while let (time, event) = events.pop(), time <= end {
                now = max(now, time)
                handle(event)
                scheduleTick()
            }
            finish()
            return report
        }

        /// Poisson arrivals with an hourly rate: exponential gaps, restarted at each hour's start.
        mutating func scheduleNextArrival(from start: Int64) {
            var t = start
            while t < Self.ms(24 * 3600) {
                let hour = Int(t / 3_600_000)
                let rate = scenario.arrivalsPerHour[hour]
                let hourEnd = Int64(hour + 1) * 3_600_000
                if rate > 0 {
                    let next = t + Self.ms(exponential(mean: 3600 / rate))
                    if next < hourEnd {
                        events.push(next, .arrival)
                        return
                    }
                }
                t = hourEnd
            }
        }

        mutating func handle(_ event: Event) {
            switch event {
            case .arrival:
                scheduleNextArrival(from: now)
                nextCaller += 1
                let id = "call-\(nextCaller)"
                let hour = min(23, Int(now / 3_600_000))
                callers[id] = Caller(arrival: now, hour: hour)
                report.offered += 1
                report.hours[hour].offered += 1
                let priority = uniform() < scenario.priorityShare ? scenario.priority : 0
                join(id, priority: priority)
            case .patience(let id, let visit):
                guard let caller = callers[id], caller.visit == visit, caller.phase == .waiting else { return }
                apply(acd.abandon(id, at: instant))
            case .answer(let offerID):
                guard let offer = offers.removeValue(forKey: offerID), let actions = acd.offerAnswered(offerID, at: instant) else { return }
                if case .callback = offer.kind {
                    schedule(in: 20, .callbackResult(offer.entry, offer.agent))
                } else {
                    schedule(in: logNormal(mean: scenario.talkTimeMean, sigma: scenario.talkTimeSigma), .callEnd(offer.agent))
                }
                apply(actions)
            case .callEnd(let agent):
                apply(acd.callEnded(agent: agent, at: instant))
            case .callbackResult(let entry, let agent):
                if uniform() < scenario.callbackReach {
                    acd.callbackConnected(entry)
                    report.callbacksConnected += 1
                    schedule(in: logNormal(mean: scenario.talkTimeMean, sigma: scenario.talkTimeSigma), .callEnd(agent))
                } else {
                    apply(acd.callbackUnanswered(entry, agent: agent, at: instant))
                }
            case .robotDone(let id):
                guard var caller = callers[id] else { return }
                if uniform() < scenario.robotResolution {
                    caller.phase = .done
                    callers[id] = caller
                    report.robotResolved += 1
                    report.hours[caller.hour].robot += 1
                } else {
                    join(id, priority: 0)   // the ACD gives the place and priority back
                }
            case .shiftStart(let agent):
                onShift.insert(agent)
                let seat = scenario.agents.first { $0.profile.id == agent }?.profile.seat ?? "seat-\(agent)"
                apply((try? acd.login(agent, seat: seat, at: instant)) ?? [])
            case .shiftEnd(let agent):
                onShift.remove(agent)
                apply((try? acd.logout(agent, at: instant)) ?? [])
            case .agentBack(let agent):
                guard onShift.contains(agent), case .notReady? = acd.snapshot(agent: agent, at: instant)?.state else { return }
                apply((try? acd.setReady(agent, at: instant)) ?? [])
            case .tick:
                scheduledTicks.remove(now)
                lastTick = now
                apply(acd.tick(at: instant))
            }
        }

        mutating func join(_ id: EntryID, priority: Int) {
            callers[id]!.visit += 1
            callers[id]!.phase = .waiting
            let request = JoinRequest(entry: id, queue: scenario.entryQueue, priority: priority, caller: "tel:\(id)")
            guard let actions = try? acd.join(request, at: instant) else { return }
            schedule(in: exponential(mean: scenario.patienceMean), .patience(id, visit: callers[id]!.visit))
            apply(actions)
        }

        mutating func apply(_ actions: [ACDAction]) {
            for action in actions {
                switch action {
                case .joined:
                    break
                case .offer(let offer):
                    offers[offer.id] = offer
                    if uniform() >= scenario.noAnswerShare {
                        let ring = scenario.ringTime.lowerBound + uniform() * (scenario.ringTime.upperBound - scenario.ringTime.lowerBound)
                        schedule(in: ring, .answer(offer.id))
                    }   // else: rings until the ACD's ring timeout
                case .withdraw(let offer, _):
                    offers.removeValue(forKey: offer.id)
                case .left(let id, _, let reason, let waited, let overflow):
                    left(id, reason: reason, waited: waited, overflow: overflow)
                case .announce:
                    report.announcements += 1
                case .callbackScheduled:
                    report.callbacksScheduled += 1
                case .callbackAbandoned:
                    report.callbacksAbandoned += 1
                case .agentStateChanged(let agent, _, let to, _):
                    if case .notReady(let reason) = to, reason == "no-answer" || reason == "seat-unreachable" {
                        report.agentsPutNotReady += 1
                        schedule(in: scenario.notReadyPause, .agentBack(agent))
                    }
                }
            }
            report.maxQueueLength = max(report.maxQueueLength, acd.waitingCount)
            let hour = min(23, Int(now / 3_600_000))
            report.hours[hour].maxQueueLength = max(report.hours[hour].maxQueueLength, acd.waitingCount)
        }

        mutating func left(_ id: EntryID, reason: ExitReason, waited: Duration, overflow: OverflowTarget?) {
            guard var caller = callers[id] else { return }
            caller.waitedMs += waited.acdMilliseconds
            let hour = caller.hour
            switch reason {
            case .answered:
                caller.phase = .talking
                report.answered += 1
                report.hours[hour].answered += 1
                report.totalAnswerWaitMs += caller.waitedMs
                report.hours[hour].totalAnswerWaitMs += caller.waitedMs
                if caller.waitedMs <= serviceLevelMs {
                    report.answeredWithinServiceLevel += 1
                    report.hours[hour].answeredWithinServiceLevel += 1
                }
            case .abandon:
                caller.phase = .done
                report.abandoned += 1
                report.hours[hour].abandoned += 1
                if caller.waitedMs > serviceLevelMs { report.hours[hour].abandonedAfterServiceLevel += 1; report.abandonedAfterServiceLevel += 1 }
            case .timeout:
                caller.phase = .done
                report.timedOut += 1
            case .full, .joinEmpty, .leaveEmpty:
                caller.phase = .done
                report.refused += 1
            case .overflow:
                switch overflow {
                case .node:
                    if !caller.toRobot { report.overflowedCallers += 1 }
                    caller.toRobot = true
                    caller.phase = .robot
                    report.robotVisits += 1
                    callers[id] = caller
                    schedule(in: exponential(mean: scenario.robotTalkTimeMean), .robotDone(id))
                case .callback:
                    caller.phase = .done
                    report.refused += 1
                case .queue, nil:
                    break   // joins the other queue
                }
            }
            report.maxWaitMs = max(report.maxWaitMs, caller.waitedMs)
            report.hours[hour].maxWaitMs = max(report.hours[hour].maxWaitMs, caller.waitedMs)
            callers[id] = caller
        }

        /// The runtime's timer: a tick at the ACD's next deadline.
        mutating func scheduleTick() {
            guard let deadline = acd.nextDeadline() else { return }
            var t = max(deadline.milliseconds, now)
            if t <= lastTick { t = lastTick + 1 }   // never tick twice at the same instant
            guard !scheduledTicks.contains(t) else { return }
            if let earliest = scheduledTicks.min(), earliest <= t { return }
            scheduledTicks.insert(t)
            events.push(t, .tick)
        }

        mutating func finish() {
            report.decisions = acd.decisions
            var busy: Int64 = 0, available: Int64 = 0
            for id in acd.agentIDs {
                guard let times = acd.snapshot(agent: id, at: instant)?.times else { continue }
                busy += times.onCallMs + times.wrapUpMs + times.reservedMs
                available += times.onCallMs + times.wrapUpMs + times.reservedMs + times.readyMs
            }
            report.occupancy = available > 0 ? Double(busy) / Double(available) : nil
            report.stillWaiting = callers.values.filter { $0.phase == .waiting || $0.phase == .robot }.count
            report.simulatedHours = Double(now) / 3_600_000
        }
    }

    public func run() -> SimulationReport {
        var run = Run(scenario)
        return run.run()
    }
}

/// What a simulated day gave. Rates are of the callers offered (arrivals), each caller counted
/// once however often they came back from the robot; waits add up all of a caller's visits.
public struct SimulationReport: Sendable, Equatable, CustomStringConvertible {
    public struct Hour: Sendable, Equatable {
        public var hour: Int
        public var agentsOnShift = 0
        public var offered = 0
        public var answered = 0
        public var answeredWithinServiceLevel = 0
        public var robot = 0
        public var abandoned = 0
        public var abandonedAfterServiceLevel = 0
        public var totalAnswerWaitMs: Int64 = 0
        public var maxWaitMs: Int64 = 0
        public var maxQueueLength = 0
        public var serviceLevel: Double? {
            let base = answered + abandonedAfterServiceLevel
            return base > 0 ? Double(answeredWithinServiceLevel) / Double(base) : nil
        }
        public var averageSpeedOfAnswer: Double? { answered > 0 ? Double(totalAnswerWaitMs) / Double(answered) / 1000 : nil }
    }

    public var offered = 0
    public var answered = 0
    public var answeredWithinServiceLevel = 0
    public var robotResolved = 0
    public var abandoned = 0
    public var abandonedAfterServiceLevel = 0
    public var timedOut = 0
    /// FULL, JOINEMPTY, LEAVEEMPTY, overflow to a callback.
    public var refused = 0
    /// Callers sent to the robot at least once, and robot visits in all.
    public var overflowedCallers = 0
    public var robotVisits = 0
    public var callbacksScheduled = 0
    public var callbacksConnected = 0
    public var callbacksAbandoned = 0
    public var announcements = 0
    public var agentsPutNotReady = 0
    public var totalAnswerWaitMs: Int64 = 0
    public var maxWaitMs: Int64 = 0
    public var maxQueueLength = 0
    public var stillWaiting = 0
    public var decisions: UInt64 = 0
    public var occupancy: Double?
    public var simulatedHours = 0.0
    public var hours: [Hour] = []

    public init() {}

    private func share(_ n: Int) -> Double? { offered > 0 ? Double(n) / Double(offered) : nil }
    public var overflowShare: Double? { share(overflowedCallers) }
    /// Answered by an agent or resolved by the robot.
    public var answerRate: Double? { share(answered + robotResolved) }
    public var abandonRate: Double? { share(abandoned) }
    /// Answered within the service level, of answered + abandoned after it.
    public var serviceLevel: Double? {
        let base = answered + abandonedAfterServiceLevel
        return base > 0 ? Double(answeredWithinServiceLevel) / Double(base) : nil
    }
    public var averageSpeedOfAnswer: Double? { answered > 0 ? Double(totalAnswerWaitMs) / Double(answered) / 1000 : nil }

    public var description: String {
        func percent(_ v: Double?) -> String { v.map { fixed($0 * 100, 1) + "%" } ?? "-" }
        func seconds(_ v: Double?) -> String { v.map { fixed($0, 1) + " s" } ?? "-" }
        var lines: [String] = []
        let rows: [(String, String)] = [
            ("offered", "\(offered)"),
            ("answered by agents", "\(answered)"),
            ("resolved by the robot", "\(robotResolved)"),
            ("abandoned", "\(abandoned)"),
            ("timed out", "\(timedOut)"),
            ("refused / left empty", "\(refused)"),
            ("overflow share (to robot)", percent(overflowShare) + "  (\(robotVisits) robot visits)"),
            ("answer rate (agents+robot)", percent(answerRate)),
            ("service level (20 s)", percent(serviceLevel)),
            ("average speed of answer", seconds(averageSpeedOfAnswer)),
            ("abandon rate", percent(abandonRate)),
            ("agent occupancy", percent(occupancy)),
            ("longest wait", seconds(Double(maxWaitMs) / 1000)),
            ("longest queue", "\(maxQueueLength)"),
            ("agents put not-ready (no answer)", "\(agentsPutNotReady)"),
            ("routing decisions", "\(decisions)"),
        ]
        for (label, value) in rows { lines.append(pad(label, 34) + value) }
        if callbacksScheduled > 0 {
            lines.append(pad("callbacks scheduled/connected/given up", 34) + "\(callbacksScheduled)/\(callbacksConnected)/\(callbacksAbandoned)")
        }
        if stillWaiting > 0 { lines.append(pad("still waiting at the end", 34) + "\(stillWaiting)") }
        lines.append("")
        lines.append("hour  agents  offered  answered  robot  abandoned     SL     ASA  max wait  max queue")
        for h in hours where h.offered > 0 || h.agentsOnShift > 0 {
            lines.append(
                pad(String(format2(h.hour)) + "h", 4, right: true) + pad("\(h.agentsOnShift)", 8, right: true) + pad("\(h.offered)", 9, right: true)
                    + pad("\(h.answered)", 10, right: true) + pad("\(h.robot)", 7, right: true) + pad("\(h.abandoned)", 11, right: true)
                    + pad(percent(h.serviceLevel), 7, right: true) + pad(seconds(h.averageSpeedOfAnswer), 8, right: true)
                    + pad(seconds(Double(h.maxWaitMs) / 1000), 10, right: true) + pad("\(h.maxQueueLength)", 11, right: true))
        }
        return lines.joined(separator: "\n")
    }
}

// MARK: Helpers

/// A binary min-heap of timed events; equal times come out in the order they went in.
struct EventQueue<Payload> {
    private var items: [(time: Int64, sequence: UInt64, payload: Payload)] = []
    private var sequence: UInt64 = 0

    var count: Int { items.count }

    private func less(_ i: Int, _ j: Int) -> Bool {
        (items[i].time, items[i].sequence) < (items[j].time, items[j].sequence)
    }

    mutating func push(_ time: Int64, _ payload: Payload) {
        sequence += 1
        items.append((time, sequence, payload))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, payload: Payload)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && less(left, smallest) { smallest = left }
            if right < items.count && less(right, smallest) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.payload)
    }
}

/// `value` with `decimals` digits after the point (no Foundation `String(format:)`).
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled) - whole * Int(scale)
    var text = (value < 0 && scaled > 0 ? "-" : "") + "\(whole)"
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}

private func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
