/// How fast the ACD decides with a long queue: `waiting` callers stay queued while `agents`
/// answer and end calls instantly, in a loop, for `seconds` of real time. Each call ended
/// makes the agent ready and the ACD offers them the next caller (one decision); a new caller
/// joins at the tail to keep the queue length. The only place the ACD module reads a clock.
public enum ACDBenchmark {
    /// Time to handle one command, microseconds.
    public struct Timing: Sendable, Equatable {
        public var count: Int
        public var mean: Double
        public var p99: Double
        public var max: Double

        init(nanoseconds samples: [Int64]) {
            let sorted = samples.sorted()
            count = sorted.count
            mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
            p99 = sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1000
            max = Double(sorted.last ?? 0) / 1000
        }
    }

    public struct Result: Sendable, Equatable, CustomStringConvertible {
        public var waiting: Int
        public var agents: Int
        public var seconds: Double
        public var decisions: Int
        public var decisionsPerSecond: Double
        public var join: Timing
        public var offerAnswered: Timing
        public var callEnded: Timing
        /// `nextDeadline()` (the runtime asks after every command to set its timer); sampled.
        public var nextDeadline: Timing
        /// Callers queued at the end (should be `waiting`).
        public var queuedAtEnd: Int

        public var description: String {
            func row(_ name: String, _ t: Timing) -> String {
                pad(name, 16) + pad(fixed(t.mean, 2), 10, right: true) + pad(fixed(t.p99, 2), 10, right: true)
                    + pad(fixed(t.max, 1), 10, right: true) + pad("\(t.count)", 10, right: true)
            }
            return [
                "ACD decisions: \(waiting) callers waiting, \(agents) agents, \(fixed(seconds, 2)) s",
                "decisions: \(decisions)  →  \(fixed(decisionsPerSecond, 0)) decisions/s (join + answer + end per decision)",
                "queued at the end: \(queuedAtEnd)",
                "",
                pad("command", 16) + pad("mean µs", 10, right: true) + pad("p99 µs", 10, right: true) + pad("max µs", 10, right: true)
                    + pad("samples", 10, right: true),
                row("join", join), row("offerAnswered", offerAnswered), row("callEnded", callEnded), row("nextDeadline", nextDeadline),
            ].joined(separator: "\n")
        }
    }

    public static func decisions(waiting: Int, agents: Int, seconds: Double) -> Result {
        precondition(waiting >= 0 && agents > 0 && seconds > 0)
        let queue = QueueConfiguration(name: "bench", strategy: .longestIdle, timeout: .seconds(10 * 365 * 86_400))
        let profiles = (0..<agents).map { AgentProfile(id: "a\($0)", queues: ["bench": 0]) }
        var acd = ACD(queues: [queue], agents: profiles)
        var virtual: Int64 = 0
        var now: ACDInstant { ACDInstant(milliseconds: virtual) }
        var ringing: [Offer] = []
        var head = 0
        func collect(_ actions: [ACDAction]) {
            for case .offer(let offer) in actions { ringing.append(offer) }
        }
        for p in profiles { collect((try? acd.login(p.id, seat: "s-\(p.id)", at: now)) ?? []) }
        var caller = 0
        func request() -> JoinRequest {
            caller += 1
            return JoinRequest(entry: "c\(caller)", queue: "bench", priority: caller % 10 == 0 ? 9 : 0)
        }
        for _ in 0..<(waiting + agents) { collect((try? acd.join(request(), at: now)) ?? []) }

        var joins: [Int64] = [], answers: [Int64] = [], ends: [Int64] = [], deadlines: [Int64] = []
        let clock = ContinuousClock()
        let startDecisions = acd.decisions
        let start = clock.now
        let stop = start + .nanoseconds(Int64(seconds * 1e9))
        var iteration = 0
        while head < ringing.count {
            iteration += 1
            if iteration & 63 == 0 {
                if clock.now >= stop { break }
                let t = clock.now
                _ = acd.nextDeadline()
                deadlines.append((clock.now - t).nanoseconds)
            }
            let offer = ringing[head]
            head += 1
            if head > 4096 {   // keep the FIFO small
                ringing.removeFirst(head)
                head = 0
            }
            virtual += 1
            var t0 = clock.now
            guard let answered = acd.offerAnswered(offer.id, at: now) else { continue }
            var t1 = clock.now
            answers.append((t1 - t0).nanoseconds)
            collect(answered)
            t0 = clock.now
            let ended = acd.callEnded(agent: offer.agent, at: now)
            t1 = clock.now
            ends.append((t1 - t0).nanoseconds)
            collect(ended)
            let next = request()
            t0 = clock.now
            let joined = (try? acd.join(next, at: now)) ?? []
            t1 = clock.now
            joins.append((t1 - t0).nanoseconds)
            collect(joined)
        }
        let elapsed = (clock.now - start).seconds
        let decisions = Int(acd.decisions - startDecisions)
        return Result(
            waiting: waiting, agents: agents, seconds: elapsed, decisions: decisions,
            decisionsPerSecond: elapsed > 0 ? Double(decisions) / elapsed : 0,
            join: Timing(nanoseconds: joins), offerAnswered: Timing(nanoseconds: answers), callEnded: Timing(nanoseconds: ends),
            nextDeadline: Timing(nanoseconds: deadlines),
            queuedAtEnd: acd.snapshot(queue: "bench", at: now).map { $0.waiting.filter { !$0.offered }.count } ?? 0)
    }
}

fileprivate extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
