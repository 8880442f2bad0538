@testable import ACD
import XCTest

/// Long randomized runs: a model of the runtime drives the ACD with random commands on a
/// virtual clock, and checks after every command that the ACD's invariants hold, that the
/// actions tell a consistent story (every offer ends once, every caller who joined leaves
/// once, agent state changes chain), and that `nextDeadline` is never in the past after a tick.
final class InvariantTests: XCTestCase {
    func testRandomRunsKeepTheInvariants() {
        for seed: UInt64 in [1, 2, 3, 4, 5, 6] {
            var fuzzer = Fuzzer(seed: seed)
            fuzzer.run(commands: 20_000)
            if let failure = fuzzer.failure {
                XCTFail("seed \(seed): \(failure)\nlast commands:\n" + fuzzer.log.suffix(15).joined(separator: "\n"))
                continue
            }
            fuzzer.checkEnd()
            if let failure = fuzzer.failure { XCTFail("seed \(seed) at the end: \(failure)") }
            // The run did exercise the interesting paths.
            let c = fuzzer.counts
            for key in ["answered", "offerFailed", "withdraw", "overflow:node", "overflow:queue", "callbackScheduled",
                        "callbackAbandoned", "left:ABANDON", "left:TIMEOUT", "left:FULL", "rejoin", "wrap-up", "not-ready:no-answer"] {
                XCTAssertGreaterThan(c[key, default: 0], 0, "seed \(seed): no \(key) in the run (\(c))")
            }
        }
    }
}

struct Fuzzer {
    var acd: ACD
    var rng: SplitMix64
    var now: Int64 = 0
    let queueNames = ["general", "backup", "elderly", "vip"]
    let agentIDs: [AgentID]
    /// Offers made and not yet ended (answered, failed, withdrawn).
    var live: [OfferID: Offer] = [:]
    var maxOfferID: OfferID = 0
    var ended: Set<OfferID> = []
    /// Callers who joined and have not left.
    var open: Set<EntryID> = []
    var known: [AgentID: AgentState] = [:]
    /// Agents talking (entry), callbacks being dialled (entry → agent).
    var talking: [AgentID: EntryID] = [:]
    var dialling: [EntryID: AgentID] = [:]
    /// Callers sent to a node, who may come back (entry → queue).
    var atNode: [EntryID: String] = [:]
    var nextCaller = 0
    var failure: String?
    var log: [String] = []
    var counts: [String: Int] = [:]

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        let strategies = QueueStrategy.allCases
        let pick = { (i: Int) in strategies[(Int(seed) + i) % strategies.count] }
        let queues = [
            QueueConfiguration(
                name: "general", strategy: pick(0), maxLength: 25, timeout: .seconds(240), wrapUp: .seconds(5),
                announcePosition: true, announceHoldTime: true, announceFrequency: .seconds(30), defaultHandlingTime: .seconds(60),
                overflow: [OverflowRule(.predictedWait(above: .seconds(200)), to: .node("robot")),
                           OverflowRule(.waited(atLeast: .seconds(90)), to: .queue("backup"))],
                abandonCallbackAfter: .seconds(60), callbackAttempts: 2, callbackRetryDelay: .seconds(30)),
            QueueConfiguration(
                name: "backup", strategy: pick(1), joinWhenEmpty: false, leaveWhenEmpty: true, timeout: .seconds(180),
                wrapUp: .seconds(10), ringInUse: true, overflow: [OverflowRule(.waited(atLeast: .seconds(60)), to: .queue("general"))]),
            QueueConfiguration(
                name: "elderly", strategy: .skills, maxLength: 8, ringTimeout: .seconds(10),
                overflow: [OverflowRule(.availableAgents(atMost: 0), to: .callback)],
                abandonCallbackAfter: .seconds(20), callbackAttempts: 3, callbackRetryDelay: .seconds(20)),
            QueueConfiguration(name: "vip", strategy: pick(2), overflow: [OverflowRule(.length(above: 3), to: .node("voicemail"))]),
        ]
        var agents: [AgentProfile] = []
        for i in 0..<10 {
            var member: [String: Int] = ["general": i % 3]
            if i % 2 == 0 { member["backup"] = i % 4 == 0 ? 0 : 1 }
            if i % 3 == 0 { member["elderly"] = 0 }
            if i >= 7 { member["vip"] = i - 7 }
            var skills: [String: Int] = [:]
            if i % 3 == 0 { skills["elderly"] = 1 + i % 4 }
            if i % 4 == 1 { skills["tax"] = 1 + i % 3 }
            agents.append(AgentProfile(id: "a\(i)", skills: skills, queues: member, maxNoAnswer: 2 + i % 2))
        }
        agentIDs = agents.map(\.id)
        acd = ACD(queues: queues, agents: agents, seed: seed)
        for id in agentIDs { known[id] = .loggedOut }
    }

    mutating func random(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) / 1_000_000 < p }
    mutating func element<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[random(items.count)] }
    var instant: ACDInstant { ACDInstant(milliseconds: now) }

    mutating func fail(_ message: String) { if failure == nil { failure = "at \(now) ms: \(message)" } }

    mutating func run(commands: Int) {
        for _ in 0..<commands where failure == nil {
            step()
            let problems = acd.invariantViolations(at: instant)
            if !problems.isEmpty { fail("invariant violations: \(problems)") }
        }
    }

    mutating func step() {
        let roll = random(100)
        switch roll {
        case 0..<8:
            // The clock moves on; the runtime's timer fires (late) if a deadline passed.
            now += Int64(random(20_000))
            log.append("advance to \(now)")
            if let next = acd.nextDeadline(), next.milliseconds <= now { tick() }
        case 8..<14:
            if let next = acd.nextDeadline() { now = max(now, next.milliseconds) }
            tick()
        case 14..<20:
            tick()
        case 20..<38:
            joinNew()
        case 38..<41:
            rejoin()
        case 41..<55:
            answer()
        case 55..<61:
            failOffer()
        case 61..<70:
            endCall()
        case 70..<74:
            resolveCallback()
        case 74..<79:
            abandon()
        case 79..<81:
            requestCallback()
        case 81..<83:
            move()
        case 83..<96:
            agentCommand()
        case 96..<98:
            let id = element(agentIDs)!
            let busy = chance(0.5)
            log.append("seatBusy \(id) \(busy)")
            apply(acd.seatBusy("seat-\(id)", busy, at: instant))
        default:
            staleCommands()
        }
    }

    mutating func tick() {
        log.append("tick at \(now)")
        apply(acd.tick(at: instant))
        if let next = acd.nextDeadline(), next <= instant { fail("nextDeadline \(next) not after the tick at \(now)") }
    }

    mutating func joinNew() {
        nextCaller += 1
        let entry = "c\(nextCaller)"
        let queue = [0, 0, 0, 0, 0, 1, 2, 2, 3][random(9)]
        var skills: [SkillRequirement] = []
        if queueNames[queue] == "elderly" { skills.append(SkillRequirement("elderly", minimumLevel: 1 + random(3))) }
        if chance(0.05) { skills.append(SkillRequirement("tax")) }
        let request = JoinRequest(entry: entry, queue: queueNames[queue], priority: [0, 0, 0, 5, 9][random(5)], skills: skills,
                                  caller: chance(0.8) ? "138\(nextCaller)" : "",
                                  timeout: chance(0.1) ? .seconds(30 + random(90)) : nil)
        log.append("join \(entry) \(request.queue) p\(request.priority)")
        do { apply(try acd.join(request, at: instant)) } catch { fail("join threw \(error)") }
    }

    mutating func rejoin() {
        guard let (entry, queue) = element(atNode.sorted { $0.key < $1.key }) else { return }
        atNode.removeValue(forKey: entry)
        guard !open.contains(entry), acd.position(of: entry) == nil else { return }
        count("rejoin")
        log.append("rejoin \(entry) \(queue)")
        do { apply(try acd.join(JoinRequest(entry: entry, queue: queue, caller: "back"), at: instant)) } catch { fail("rejoin threw \(error)") }
    }

    mutating func answer() {
        guard let offer = element(live.values.sorted { $0.id < $1.id }) else { return }
        now += Int64(random(3000))
        log.append("answer \(offer.id) \(offer.entry)→\(offer.agent)")
        live.removeValue(forKey: offer.id)
        ended.insert(offer.id)
        guard let actions = acd.offerAnswered(offer.id, at: instant) else { return fail("a live offer \(offer.id) could not be answered") }
        count("answered")
        if case .callback = offer.kind { dialling[offer.entry] = offer.agent }
        apply(actions)
    }

    mutating func failOffer() {
        guard let offer = element(live.values.sorted { $0.id < $1.id }) else { return }
        let failure = [OfferFailure.noAnswer, .noAnswer, .rejected, .unreachable][random(4)]
        log.append("fail \(offer.id) \(failure)")
        live.removeValue(forKey: offer.id)
        ended.insert(offer.id)
        count("offerFailed")
        apply(acd.offerFailed(offer.id, failure, at: instant))
    }

    mutating func endCall() {
        let candidates = talking.filter { dialling[$0.value] != $0.key }.keys.sorted()
        guard let id = element(candidates) else { return }
        now += Int64(random(60_000))
        log.append("callEnded \(id)")
        apply(acd.callEnded(agent: id, at: instant))
    }

    mutating func resolveCallback() {
        guard let (entry, agent) = dialling.sorted(by: { $0.key < $1.key }).first else { return }
        dialling.removeValue(forKey: entry)
        if chance(0.5) {
            log.append("callbackConnected \(entry)")
            acd.callbackConnected(entry)
        } else {
            log.append("callbackUnanswered \(entry)")
            now += Int64(random(40_000))
            apply(acd.callbackUnanswered(entry, agent: agent, at: instant))
        }
    }

    mutating func abandon() {
        let pick = chance(0.9) ? element(open.sorted()) : "c\(random(nextCaller + 1))"
        guard let entry = pick else { return }
        log.append("abandon \(entry)")
        apply(acd.abandon(entry, at: instant))
    }

    mutating func requestCallback() {
        guard let entry = element(open.sorted()) else { return }
        log.append("requestCallback \(entry)")
        do { apply(try acd.requestCallback(entry, number: "cb-\(entry)", at: instant)) } catch {
            if error != .unknownEntry(entry) { fail("requestCallback threw \(error)") }
        }
    }

    mutating func move() {
        guard let entry = element(open.sorted()), let queue = element(queueNames) else { return }
        log.append("move \(entry) → \(queue)")
        do { apply(try acd.move(entry, to: queue, at: instant)) } catch {
            if acd.queue(of: entry) != nil { fail("move threw \(error)") }
        }
    }

    mutating func agentCommand() {
        let id = element(agentIDs)!
        do {
            switch random(10) {
            case 0..<4:
                let seat = chance(0.05) ? "seat-shared" : "seat-\(id)"
                log.append("login \(id) \(seat)")
                apply(try acd.login(id, seat: seat, ready: chance(0.8), at: instant))
            case 4:
                log.append("logout \(id)")
                apply(try acd.logout(id, at: instant))
            case 5..<8:
                log.append("ready \(id)")
                apply(try acd.setReady(id, at: instant))
            default:
                log.append("notReady \(id)")
                apply(try acd.setNotReady(id, reason: "break", at: instant))
            }
        } catch {
            switch error {
            case .illegalTransition(let agent, _, _, _) where agent == id: break
            case .seatTaken: break
            default: fail("agent command threw \(error)")
            }
        }
    }

    /// Late answers and failures for offers that ended are ignored.
    mutating func staleCommands() {
        guard let id = element(ended.sorted()) else { return }
        log.append("stale \(id)")
        if acd.offerAnswered(id, at: instant) != nil { fail("ended offer \(id) answered") }
        if !acd.offerFailed(id, .noAnswer, at: instant).isEmpty { fail("ended offer \(id) failed again") }
    }

    mutating func count(_ key: String) { counts[key, default: 0] += 1 }

    /// Checks the actions against the model and updates it.
    mutating func apply(_ actions: [ACDAction]) {
        for action in actions {
            switch action {
            case .joined(let entry, _, _, _):
                if open.contains(entry) { fail("\(entry) joined twice") }
                open.insert(entry)
            case .left(let entry, _, let reason, _, let overflow):
                count("left:\(reason.rawValue)")
                if reason == .full || reason == .joinEmpty {
                    if open.contains(entry) { fail("\(entry) refused while queued") }
                    continue
                }
                if open.remove(entry) == nil { fail("\(entry) left (\(reason)) but had not joined") }
                switch overflow {
                case .node: count("overflow:node"); atNode[entry] = acd.queue(of: entry) ?? lastQueue(of: actions, entry)
                case .queue: count("overflow:queue")
                case .callback: count("overflow:callback")
                case nil: break
                }
            case .offer(let offer):
                if offer.id <= maxOfferID || live[offer.id] != nil { fail("offer id \(offer.id) reused") }
                maxOfferID = offer.id
                live[offer.id] = offer
            case .withdraw(let offer, _):
                if live.removeValue(forKey: offer.id) == nil { fail("offer \(offer.id) withdrawn but not live") }
                ended.insert(offer.id)
                count("withdraw")
            case .announce:
                count("announce")
            case .callbackScheduled:
                count("callbackScheduled")
            case .callbackAbandoned:
                count("callbackAbandoned")
            case .agentStateChanged(let agent, let from, let to, _):
                if known[agent] != from { fail("\(agent) changed from \(from) but was \(known[agent].map { "\($0)" } ?? "?")") }
                known[agent] = to
                if case .onCall(let entry) = to { talking[agent] = entry } else { talking.removeValue(forKey: agent) }
                if case .wrapUp = to { count("wrap-up") }
                if case .notReady(let reason) = to { count("not-ready:\(reason)") }
            }
        }
        for (id, state) in known where acd.state(id) != state { fail("\(id) is \(acd.state(id).map { "\($0)" } ?? "?"), actions said \(state)") }
    }

    private func lastQueue(of actions: [ACDAction], _ entry: EntryID) -> String {
        for case .left(let e, let q, _, _, _) in actions.reversed() where e == entry { return q }
        return "general"
    }

    /// At the end: live offers are exactly the ACD's current ones; callers who joined and did
    /// not leave are exactly the queued callers who are not callbacks owed after leaving.
    mutating func checkEnd() {
        if maxOfferID > 0 {
            for id in 1...maxOfferID where (acd.offer(id) != nil) != (live[id] != nil) { fail("offer \(id) live mismatch") }
        }
        var queued: [EntryID: Bool] = [:]   // entry → is a callback
        for name in queueNames {
            for w in acd.snapshot(queue: name, at: instant)!.waiting { queued[w.entry] = w.callback }
        }
        for entry in open where queued[entry] == nil { fail("\(entry) joined, never left, and is not queued") }
        for (entry, callback) in queued where !open.contains(entry) && !callback { fail("\(entry) queued but left") }
        if acd.waitingCount != queued.count { fail("waiting count \(acd.waitingCount) vs \(queued.count) listed") }
    }
}
