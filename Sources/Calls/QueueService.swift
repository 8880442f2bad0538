import ACD
import Foundation
import HotlineCore
import Logging
import Media
import SDP
import Metrics
import NIOCore
import SIPMessages

/// What a queued caller's call hears from the queue service.
public enum QueueSignal: Sendable {
    case joined(position: Int, predictedWait: Duration?)
    case announce(position: Int, predictedWait: Duration?)
    /// An agent's phone rings for this caller.
    case offered(agent: AgentID, seat: String)
    /// That offer ended without the caller (no-answer, rejected, unreachable, withdrawn).
    case offerEnded(agent: AgentID, reason: String)
    /// The agent answered: bridge the caller to `leg`, then report `conversationEnded`.
    case connected(Leg, agent: AgentID)
    case left(reason: ExitReason, overflow: OverflowTarget?, waited: Duration)
    /// The caller will be called back at `number` (they may hang up).
    case callbackScheduled(number: String)
}

/// One message of an agent's desk feed (`GET /v1/agents/{id}/feed`).
public struct AgentFeedEvent: Sendable {
    /// `state`, `offer`, `offer-ended`, `connected`, `call-ended`.
    public var type: String
    public var data: [String: JSONValue]
}

/// Where queue calls go and how the ACD hears back: runs the ACD state machine (`ACD`) on the
/// real clock, rings agents' seats through the `Originator`, hands answered agents to the
/// caller's call, keeps the desk feeds, and emits the agents' events.
public actor QueueService {
    private var acd: ACD
    private let start = ContinuousClock.now
    private let originator: Originator?
    private let events: EventSink
    private let logger: Logger
    private let lineNumber: String
    private var waiters: [EntryID: AsyncStream<QueueSignal>.Continuation] = [:]
    /// The caller's media loop and codec: the agent's leg is opened on the same loop.
    private var callers: [EntryID: (loop: EventLoop?, codec: AudioCodec?)] = [:]
    private var offerTasks: [OfferID: Task<Void, Never>] = [:]
    private var timer: Task<Void, Never>?
    private var timerDeadline: ACDInstant?
    private var feeds: [AgentID: [UUID: AsyncStream<AgentFeedEvent>.Continuation]] = [:]
    /// Per-login subject of the agent's events (`hotline.agent.state-changed`).
    private var agentSessions: [AgentID: (id: CallIdentifier, sequence: Int)] = [:]
    /// Callbacks: their events continue the caller's call (same id, numbering after its last
    /// event); until that call has ended and told us its next number, they wait here.
    private var callbackSequences: [EntryID: Int] = [:]
    private var pendingCallbackEvents: [EntryID: [(String, [String: JSONValue])]] = [:]

    private let decisionsCounter = Counter(label: "hotline_acd_decisions_total")
    /// From the decision to the agent's phone ringing (180).
    private let offerLatency = Timer(label: "hotline_acd_offer_seconds", preferredDisplayUnit: .seconds)
    /// Callers waiting per queue and agents per state, for `/metrics`.
    private var waitingByQueue: [String: Int] = [:]
    /// Direct calls (between phones) per seat, for `ring-in-use`.
    private var directCalls: [String: Int] = [:]
    private var agentsByState: [String: Int] = [:]
    /// Per queue: what waiting callers hear besides music.
    public nonisolated let announcements: [String: QueueAnnouncements]
    private let seatRegistered: (@Sendable (String) async -> Bool)?
    private let sessions: AgentSessionStore?
    /// What was last stored per agent (seat, ready, reason), so that only changes are written.
    private var stored: [AgentID: (seat: String, ready: Bool, reason: String?)] = [:]
    /// Store writes in order, off the actor.
    private var storeWrites: Task<Void, Never>?

    public init(queues: [QueueConfiguration], agents: [AgentProfile], announcements: [String: QueueAnnouncements] = [:],
                originator: Originator?, events: EventSink, lineNumber: String = "12345",
                seatRegistered: (@Sendable (String) async -> Bool)? = nil, sessions: AgentSessionStore? = nil, logger: Logger) {
        self.sessions = sessions
        self.announcements = announcements
        self.seatRegistered = seatRegistered
        self.acd = ACD(queues: queues, agents: agents, seed: UInt64.random(in: 1...UInt64.max))
        self.originator = originator
        self.events = events
        self.lineNumber = lineNumber
        self.logger = logger
    }

    private var now: ACDInstant {
        ACDInstant(milliseconds: (ContinuousClock.now - start).acdMilliseconds)
    }

    /// The ACD's clock for `instant` (snapshots, ages in the API).
    private func date(_ instant: ACDInstant) -> Date {
        Date().addingTimeInterval(Double((instant - now).acdMilliseconds) / 1000)
    }

    // MARK: Callers

    /// Puts a caller in a queue; signals arrive on the stream until `left` (or `connected`
    /// and the end of the conversation).
    public func join(_ request: JoinRequest, loop: EventLoop?, codec: AudioCodec?) throws(ACDError) -> AsyncStream<QueueSignal> {
        let (stream, continuation) = AsyncStream<QueueSignal>.makeStream()
        waiters[request.entry] = continuation
        callers[request.entry] = (loop, codec)
        let actions: [ACDAction]
        do {
            actions = try acd.join(request, at: now)
        } catch {
            waiters.removeValue(forKey: request.entry)
            callers.removeValue(forKey: request.entry)
            throw error
        }
        apply(actions)
        return stream
    }

    /// The caller hung up while queued.
    public func abandon(_ entry: EntryID) {
        apply(acd.abandon(entry, at: now))
        finishWaiter(entry)
    }

    /// The caller asked to be called back at `number` (virtual hold).
    public func requestCallback(_ entry: EntryID, number: String) throws(ACDError) {
        apply(try acd.requestCallback(entry, number: number, at: now))
    }

    /// A queued caller's call ended (after its last event): a callback owed to it numbers its
    /// events from `nextSequence`.
    public func callerCallEnded(_ entry: EntryID, nextSequence: Int) {
        guard let pending = pendingCallbackEvents.removeValue(forKey: entry) ?? (acd.isCallback(entry) ? [] : nil) else { return }
        callbackSequences[entry] = nextSequence
        for (type, data) in pending { emitCallback(entry, type, data) }
    }

    /// The caller's conversation with `agent` ended (either side hung up).
    public func conversationEnded(agent: AgentID, entry: EntryID) {
        feed(agent, "call-ended", ["call": .string(entry)])
        apply(acd.callEnded(agent: agent, at: now))
        finishWaiter(entry)
    }

    /// A supervisor moves a waiting caller to another queue.
    public func move(_ entry: EntryID, to queue: String) throws(ACDError) {
        apply(try acd.move(entry, to: queue, at: now))
    }

    private func finishWaiter(_ entry: EntryID) {
        waiters.removeValue(forKey: entry)?.finish()
        callers.removeValue(forKey: entry)
    }

    // MARK: Agents

    /// Logs the agent in at `seat`, which must have a registered phone.
    public func login(_ agent: AgentID, seat: String, ready: Bool = true) async throws(ACDError) {
        guard acd.snapshot(agent: agent, at: now) != nil else { throw .unknownAgent(agent) }
        if let seatRegistered, !(await seatRegistered(seat)) { throw .seatNotRegistered(seat) }
        apply(try acd.login(agent, seat: seat, ready: ready, seatBusy: directCalls[seat] != nil, at: now))
    }

    public func logout(_ agent: AgentID) throws(ACDError) {
        apply(try acd.logout(agent, at: now))
    }

    public func setReady(_ agent: AgentID) throws(ACDError) {
        apply(try acd.setReady(agent, at: now))
    }

    public func setNotReady(_ agent: AgentID, reason: String) throws(ACDError) {
        apply(try acd.setNotReady(agent, reason: reason, at: now))
    }

    /// After a restart: the agents who were logged in are logged in again at their seats, not
    /// ready (reason `node-restart`, or the reason they had), until they say ready.
    public func restoreSessions() async {
        guard let sessions else { return }
        for s in await sessions.load() {
            guard acd.snapshot(agent: s.agent, at: now) != nil else {
                await sessions.delete(agent: s.agent)   // no longer configured
                continue
            }
            do throws(ACDError) {
                apply(try acd.login(s.agent, seat: s.seat, ready: false, seatBusy: directCalls[s.seat] != nil, at: now))
                apply(try acd.setNotReady(s.agent, reason: s.ready ? "node-restart" : (s.reason ?? "node-restart"), at: now))
                logger.info("agent log-in restored", metadata: ["agent": "\(s.agent)", "seat": "\(s.seat)"])
            } catch {
                logger.warning("agent log-in not restored", metadata: ["agent": "\(s.agent)", "error": "\(error)"])
            }
        }
    }

    /// Keeps the store's copy of the agent's log-in (seat, ready or not and why) up to date.
    private func persist(_ agent: AgentID, _ state: AgentState) {
        guard let sessions else { return }
        let entry: (seat: String, ready: Bool, reason: String?)?
        switch state {
        case .loggedOut: entry = nil
        case .notReady(let reason): entry = acd.snapshot(agent: agent, at: now)?.seat.map { ($0, false, reason) }
        case .ready, .reserved, .onCall, .wrapUp: entry = acd.snapshot(agent: agent, at: now)?.seat.map { ($0, true, nil) }
        }
        let old = stored[agent]
        if old?.seat == entry?.seat && old?.ready == entry?.ready && old?.reason == entry?.reason { return }
        stored[agent] = entry
        let previous = storeWrites
        storeWrites = Task {
            await previous?.value
            if let entry {
                await sessions.save(agent: agent, seat: entry.seat, ready: entry.ready, reason: entry.reason)
            } else {
                await sessions.delete(agent: agent)
            }
        }
    }

    /// A call between phones (not from a queue) started or ended at these seats.
    public func directCall(seats: [String], started: Bool) {
        for seat in Set(seats) {
            let n = max(0, directCalls[seat, default: 0] + (started ? 1 : -1))
            directCalls[seat] = n == 0 ? nil : n
            apply(acd.seatBusy(seat, n > 0, at: now))
        }
    }

    public func agent(atSeat seat: String) -> AgentID? { acd.agent(atSeat: seat) }
    public func agent(usuallyAt seat: String) -> AgentID? { acd.agent(usuallyAt: seat) }

    /// A phone's feature code (`*90` log in at this seat, `*91` ready, `*92` not ready, `*93`
    /// log out). Returns what happened, for the prompt and the log.
    public func featureCode(_ code: String, seat: String) async -> Result<String, ACDError> {
        do throws(ACDError) {
            switch code {
            case "*90":
                guard let agent = acd.agent(atSeat: seat) ?? acd.agent(usuallyAt: seat) else {
                    return .failure(.unknownAgent("at seat \(seat)"))
                }
                try await login(agent, seat: seat)
                return .success("agent \(agent) logged in")
            case "*91", "*92", "*93":
                guard let agent = acd.agent(atSeat: seat) else {
                    return .failure(.illegalTransition(agent: "?", from: "logged-out", to: code, reason: "no agent is logged in at seat \(seat)"))
                }
                switch code {
                case "*91": try setReady(agent)
                case "*92": try setNotReady(agent, reason: "break")
                default: try logout(agent)
                }
                return .success("agent \(agent): \(acd.snapshot(agent: agent, at: now)?.state.name ?? "?")")
            default:
                return .failure(.unknownAgent(code))
            }
        } catch {
            return .failure(error)
        }
    }

    public func agentSnapshots() -> [AgentSnapshot] {
        acd.agentIDs.compactMap { acd.snapshot(agent: $0, at: now) }
    }

    public func agentSnapshot(_ id: AgentID) -> AgentSnapshot? { acd.snapshot(agent: id, at: now) }

    public func queueSnapshots() -> [QueueSnapshot] {
        acd.queueNames.compactMap { acd.snapshot(queue: $0, at: now) }
    }

    public func queueSnapshot(_ name: String) -> QueueSnapshot? { acd.snapshot(queue: name, at: now) }

    public var decisions: UInt64 { acd.decisions }

    /// The agent's desk feed: their state now, then every change and offer as it happens.
    public func feed(agent: AgentID) throws(ACDError) -> AsyncStream<AgentFeedEvent> {
        guard let snapshot = acd.snapshot(agent: agent, at: now) else { throw .unknownAgent(agent) }
        let (stream, continuation) = AsyncStream<AgentFeedEvent>.makeStream(bufferingPolicy: .bufferingNewest(100))
        let key = UUID()
        feeds[agent, default: [:]][key] = continuation
        continuation.yield(AgentFeedEvent(type: "state", data: stateData(snapshot.state, reason: nil, agent: agent)))
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropFeed(agent, key) }
        }
        return stream
    }

    private func dropFeed(_ agent: AgentID, _ key: UUID) {
        feeds[agent]?.removeValue(forKey: key)
    }

    public func shutdown() async {
        await storeWrites?.value
        timer?.cancel()
        for task in offerTasks.values { task.cancel() }
        for feed in feeds.values.flatMap(\.values) { feed.finish() }
        feeds = [:]
    }

    // MARK: Actions

    private func apply(_ actions: [ACDAction]) {
        for action in actions {
            switch action {
            case .joined(let entry, let queue, let position, let wait):
                logger.info("queued", metadata: ["call": "\(entry)", "queue": "\(queue)", "position": "\(position)"])
                waiting(queue, +1)
                waiters[entry]?.yield(.joined(position: position, predictedWait: wait))
            case .offer(let offer):
                startOffer(offer)
            case .withdraw(let offer, let reason):
                offerTasks.removeValue(forKey: offer.id)?.cancel()
                feed(offer.agent, "offer-ended", ["call": .string(offer.entry), "reason": .string(reason.rawValue)])
                if reason != .answeredElsewhere {
                    waiters[offer.entry]?.yield(.offerEnded(agent: offer.agent, reason: reason.rawValue))
                }
            case .left(let entry, let queue, let reason, let waited, let overflow):
                logger.info("left queue", metadata: ["call": "\(entry)", "queue": "\(queue)", "reason": "\(reason.rawValue)"])
                Counter(label: "hotline_queue_left_total", dimensions: [("queue", queue), ("reason", reason.rawValue)]).increment()
                Timer(label: "hotline_queue_wait_seconds", dimensions: [("queue", queue)], preferredDisplayUnit: .seconds)
                    .recordNanoseconds(waited.acdMilliseconds * 1_000_000)
                waiting(queue, -1)
                if reason != .answered {
                    waiters[entry]?.yield(.left(reason: reason, overflow: overflow, waited: waited))
                    // Moved to another queue: the wait goes on; otherwise the caller's wait is over.
                    if case .queue = overflow {} else { finishWaiter(entry) }
                }
            case .announce(let entry, _, let position, let wait):
                waiters[entry]?.yield(.announce(position: position, predictedWait: wait))
            case .callbackScheduled(let entry, let queue, let number):
                logger.info("callback scheduled", metadata: ["call": "\(entry)", "queue": "\(queue)", "number": "\(number)"])
                if let waiter = waiters[entry] {
                    waiter.yield(.callbackScheduled(number: number))
                    finishWaiter(entry)   // the caller hangs up; the callback has no waiter
                } else {
                    // A missed-call callback: the caller's call is over (or ending).
                    emitCallback(entry, QueueEventType.callbackScheduled, ["queue": .string(queue), "number": .string(number)])
                }
            case .callbackAbandoned(let entry, let queue, let number):
                logger.notice("callback given up", metadata: ["call": "\(entry)", "queue": "\(queue)", "number": "\(number)"])
                emitCallback(entry, "hotline.queue.callback-failed", ["queue": .string(queue), "number": .string(number)])
                forgetCallback(entry)
            case .agentStateChanged(let agent, let from, let to, let reason):
                agentStateChanged(agent, from: from, to: to, reason: reason)
            }
        }
        scheduleTick()
    }

    private func scheduleTick() {
        guard let deadline = acd.nextDeadline() else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        let delay = max(0, (deadline - now).acdMilliseconds)
        timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.tick()
        }
    }

    private func tick() {
        timer = nil
        timerDeadline = nil
        apply(acd.tick(at: now))
    }

    private func startOffer(_ offer: Offer) {
        decisionsCounter.increment()
        feed(offer.agent, "offer", offerData(offer))
        waiters[offer.entry]?.yield(.offered(agent: offer.agent, seat: offer.seat))
        guard let originator else {
            offerTasks[offer.id] = Task { [weak self] in await self?.offerResult(offer, .failure(.noRoute(offer.seat)), leg: nil) }
            return
        }
        var headers = [
            SIPHeader(name: "X-Hotline-Call-ID", value: offer.entry),
            SIPHeader(name: "X-Hotline-Queue", value: offer.queue),
        ]
        if let path = offer.context["ivr.path"] { headers.append(SIPHeader(name: "X-Hotline-IVR-Path", value: path)) }
        if let day = offer.context["repeat.day"] { headers.append(SIPHeader(name: "X-Hotline-Repeat-Day", value: day)) }
        if let week = offer.context["repeat.week"] { headers.append(SIPHeader(name: "X-Hotline-Repeat-Week", value: week)) }
        if case .callback(let number) = offer.kind { headers.append(SIPHeader(name: "X-Hotline-Callback", value: number)) }
        let caller = callers[offer.entry]
        let ring = offer.deadline - offer.startedAt + .seconds(2)   // the ACD's ring timeout decides first
        let from = offer.caller.isEmpty ? lineNumber : offer.caller
        let started = ContinuousClock.now
        let task = Task { [weak self, offerLatency] in
            do {
                let leg = try await originator.originate(
                    to: offer.seat, from: from, headers: headers, on: caller?.loop, ringTimeout: ring, preferring: caller?.codec,
                    progress: { progress in
                        if case .ringing = progress { offerLatency.recordNanoseconds((ContinuousClock.now - started).acdMilliseconds * 1_000_000) }
                    })
                await self?.offerResult(offer, .success(()), leg: leg)
            } catch {
                await self?.offerResult(offer, .failure(error as? OriginateError ?? .cancelled), leg: nil)
            }
        }
        offerTasks[offer.id] = task
    }

    private func offerResult(_ offer: Offer, _ result: Result<Void, OriginateError>, leg: Leg?) {
        offerTasks.removeValue(forKey: offer.id)
        switch result {
        case .success:
            guard let leg else { return }
            guard let actions = acd.offerAnswered(offer.id, at: now) else {
                // Too late: the caller left or another agent won.
                leg.sip.hangup()
                leg.rtp.close(cause: .cancelled)
                return
            }
            feed(offer.agent, "connected", ["call": .string(offer.entry), "caller": .string(offer.caller)])
            if case .callback(let number) = offer.kind {
                apply(actions)
                runCallback(offer, agentLeg: leg, number: number)
                return
            }
            let delivered = waiters[offer.entry].map { w -> Bool in
                if case .terminated = w.yield(.connected(leg, agent: offer.agent)) { return false }
                return true
            } ?? false
            apply(actions)
            if !delivered {
                leg.sip.hangup()
                leg.rtp.close(cause: .cancelled)
                apply(acd.callEnded(agent: offer.agent, at: now))
            }
        case .failure(let error):
            guard acd.offer(offer.id) != nil else { return }   // withdrawn by us
            let failure: OfferFailure
            switch error {
            case .failed(let status, _) where status == 486 || status == 600 || status == 603:
                failure = .rejected
            case .failed(let status, _) where status == 408 || status == 480 || status == 487:
                failure = .noAnswer
            case .notRegistered, .noRoute, .noMedia, .failed:
                failure = .unreachable
            case .cancelled:
                failure = .noAnswer
            }
            logger.info("offer not answered", metadata: [
                "call": "\(offer.entry)", "agent": "\(offer.agent)", "reason": "\(failure.rawValue)", "error": "\(error)"])
            feed(offer.agent, "offer-ended", ["call": .string(offer.entry), "reason": .string(failure.rawValue)])
            waiters[offer.entry]?.yield(.offerEnded(agent: offer.agent, reason: failure.rawValue))
            apply(acd.offerFailed(offer.id, failure, at: now))
        }
    }

    // MARK: Callbacks

    /// The agent took a callback: dial the citizen from the hotline's number and bridge them.
    private func runCallback(_ offer: Offer, agentLeg: Leg, number: String) {
        emitCallback(offer.entry, "hotline.agent.answered", ["agent": .string(offer.agent), "queue": .string(offer.queue), "callback": .bool(true)])
        guard let originator else { return }
        let line = lineNumber
        Task { [weak self] in
            do {
                let citizen = try await originator.originate(
                    to: number, from: line, headers: [SIPHeader(name: "X-Hotline-Call-ID", value: offer.entry)],
                    on: agentLeg.rtp.eventLoop, ringTimeout: .seconds(40))
                await self?.callbackConnected(offer, agentLeg: agentLeg, citizen: citizen)
            } catch {
                agentLeg.sip.hangup()
                agentLeg.rtp.close(cause: .cancelled)
                await self?.callbackUnanswered(offer, error: error)
            }
        }
    }

    private func callbackConnected(_ offer: Offer, agentLeg: Leg, citizen: Leg) async {
        acd.callbackConnected(offer.entry)
        emitCallback(offer.entry, "hotline.call.connected", ["party": .string(citizen.party)])
        _ = try? await agentLeg.rtp.bridge(with: citizen.rtp).get()
        let ended = AsyncStream<Void>.makeStream()
        for leg in [agentLeg, citizen] {
            leg.sip.setEventHandler { event in
                switch event {
                case .remoteHangup, .transportFailure, .sessionExpired, .ackTimeout, .cancelled: ended.continuation.yield()
                default: break
                }
            }
        }
        for await _ in ended.stream { break }
        for leg in [agentLeg, citizen] {
            leg.sip.hangup()
            leg.rtp.close(cause: .normalClearing)
        }
        emitCallback(offer.entry, "hotline.queue.callback-ended", ["agent": .string(offer.agent)])
        forgetCallback(offer.entry)
        apply(acd.callEnded(agent: offer.agent, at: now))
    }

    private func callbackUnanswered(_ offer: Offer, error: Error) {
        logger.info("callback not answered", metadata: ["call": "\(offer.entry)", "error": "\(error)"])
        emitCallback(offer.entry, "hotline.queue.callback-unanswered", ["agent": .string(offer.agent), "error": .string("\(error)")])
        apply(acd.callbackUnanswered(offer.entry, agent: offer.agent, at: now))
    }

    /// The callback is over; events still waiting for the caller's call to end keep waiting.
    private func forgetCallback(_ entry: EntryID) {
        if pendingCallbackEvents[entry] == nil { callbackSequences.removeValue(forKey: entry) }
    }

    private func emitCallback(_ entry: EntryID, _ type: String, _ data: [String: JSONValue]) {
        guard let sequence = callbackSequences[entry] else {
            pendingCallbackEvents[entry, default: []].append((type, data))
            return
        }
        callbackSequences[entry] = sequence + 1
        events.append(CallEvent(type: type, callID: CallIdentifier(rawValue: entry), sequence: sequence, data: data))
    }

    // MARK: Agent events and feeds

    private func waiting(_ queue: String, _ change: Int) {
        let n = max(0, waitingByQueue[queue, default: 0] + change)
        waitingByQueue[queue] = n
        Gauge(label: "hotline_queue_waiting", dimensions: [("queue", queue)]).record(n)
    }

    private func agentStateChanged(_ agent: AgentID, from: AgentState, to: AgentState, reason: String?) {
        for (state, change) in [(from.name, -1), (to.name, 1)] where state != "logged-out" {
            let n = max(0, agentsByState[state, default: 0] + change)
            agentsByState[state] = n
            Gauge(label: "hotline_agents", dimensions: [("state", state)]).record(n)
        }
        if case .loggedOut = from { agentSessions[agent] = (CallIdentifier.random(), 1) }
        if let session = agentSessions[agent] {
            var data: [String: JSONValue] = ["agent": .string(agent), "from": .string(from.name), "to": .string(to.name)]
            if let reason { data["reason"] = .string(reason) }
            if let seat = acd.snapshot(agent: agent, at: now)?.seat { data["seat"] = .string(seat) }
            events.append(CallEvent(type: AgentEventType.stateChanged, callID: session.id, sequence: session.sequence, data: data))
            agentSessions[agent] = (session.id, session.sequence + 1)
        }
        if case .loggedOut = to { agentSessions.removeValue(forKey: agent) }
        persist(agent, to)
        logger.info("agent state", metadata: ["agent": "\(agent)", "from": "\(from.name)", "to": "\(to.name)", "reason": "\(reason ?? "")"])
        feed(agent, "state", stateData(to, reason: reason, agent: agent))
    }

    private func stateData(_ state: AgentState, reason: String?, agent: AgentID) -> [String: JSONValue] {
        var data: [String: JSONValue] = ["agent": .string(agent), "state": .string(state.name)]
        switch state {
        case .notReady(let r): data["reason"] = .string(r)
        case .reserved(let e), .onCall(let e): data["call"] = .string(e)
        case .loggedOut, .ready, .wrapUp: if let reason { data["reason"] = .string(reason) }
        }
        return data
    }

    private func offerData(_ offer: Offer) -> [String: JSONValue] {
        var context: [String: JSONValue] = [:]
        for (k, v) in offer.context { context[k] = .string(v) }
        var data: [String: JSONValue] = [
            "call": .string(offer.entry), "caller": .string(offer.caller), "queue": .string(offer.queue),
            "seat": .string(offer.seat), "context": .object(context),
        ]
        if case .callback(let number) = offer.kind { data["callback"] = .string(number) }
        return data
    }

    private func feed(_ agent: AgentID, _ type: String, _ data: [String: JSONValue]) {
        guard let subscribers = feeds[agent] else { return }
        let event = AgentFeedEvent(type: type, data: data)
        for s in subscribers.values { s.yield(event) }
    }
}

/// Where agents' log-ins are kept across restarts (the embedded store).
public protocol AgentSessionStore: Sendable {
    /// The agent is logged in at `seat`: ready, or not ready for `reason`.
    func save(agent: AgentID, seat: String, ready: Bool, reason: String?) async
    func delete(agent: AgentID) async
    func load() async -> [(agent: AgentID, seat: String, ready: Bool, reason: String?)]
}

/// Agents' events (docs/events.md): their subject is the agent's login session.
public enum AgentEventType {
    public static let stateChanged = "hotline.agent.state-changed"
    public static let offered = "hotline.agent.offered"
    public static let answered = "hotline.agent.answered"
    public static let noAnswer = "hotline.agent.no-answer"
}

/// Queue events of a caller (docs/events.md).
public enum QueueEventType {
    public static let joined = "hotline.queue.joined"
    public static let left = "hotline.queue.left"
    public static let callbackScheduled = "hotline.queue.callback-scheduled"
}
