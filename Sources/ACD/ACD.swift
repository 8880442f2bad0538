/// The automatic call distributor: queues of callers, agents and their states, and the
/// decision of which caller goes to which agent. A pure state machine: commands come in with
/// the time (`now`), actions go out (offer, withdraw, left, announce, state changed); the
/// runtime (`QueueService`) turns actions into SIP and media, and reports back what happened
/// (answered, not answered, hung up). `hotline simulate` and the tests drive it with a
/// virtual clock.
///
/// Guarantees, checked by `invariantViolations(at:)` after every command in the randomized
/// tests: a caller is connected to at most one agent; an agent rings for or talks to at most
/// one caller; after every command no ready agent is left idle while a caller they qualify
/// for waits.
public struct ACD: Sendable {
    struct PositionKey: Comparable, Hashable, Sendable {
        var at: Int64
        var sequence: UInt64
        static func < (a: PositionKey, b: PositionKey) -> Bool { (a.at, a.sequence) < (b.at, b.sequence) }
    }

    /// Queue order: higher priority first, then earlier place.
    struct OrderKey: Comparable, Hashable, Sendable {
        var priority: Int
        var position: PositionKey
        var entry: EntryID
        static func < (a: OrderKey, b: OrderKey) -> Bool {
            if a.priority != b.priority { return a.priority > b.priority }
            if a.position != b.position { return a.position < b.position }
            return a.entry < b.entry
        }
    }

    /// Overflow rule `index` of `queue`: each fires at most once per caller and queue, also
    /// when queues send callers to each other.
    struct RuleID: Hashable, Sendable {
        var queue: String
        var index: Int
    }

    struct Entry: Sendable {
        var request: JoinRequest
        var kind: EntryKind
        var position: PositionKey
        var joinedAt: ACDInstant
        var offers: Set<OfferID> = []
        /// Agents who did not take this caller: others are preferred.
        var failedAgents: Set<AgentID> = []
        var firedRules: Set<RuleID> = []
        /// `left` was reported already (missed-call callback, or a callback answered once):
        /// the caller leaves the queue once, however many attempts the callback takes.
        var leftReported = false
        var nextAnnouncement: ACDInstant?
        /// A callback waits for its retry time.
        var eligibleAt: ACDInstant
        var callbackAttempts = 0
        var orderKey: OrderKey { OrderKey(priority: request.priority, position: position, entry: request.entry) }
        var isWaiting: Bool { offers.isEmpty }
    }

    struct Agent: Sendable {
        var profile: AgentProfile
        var state: AgentState = .loggedOut
        var since: ACDInstant = .zero
        var seat: String?
        /// When they last became free for a call (login, end of wrap-up): longest-idle.
        var idleSince: ACDInstant = .zero
        var consecutiveNoAnswer = 0
        var answeredByQueue: [String: Int] = [:]
        var pending: Pending?
        /// The seat has a call that is not from a queue (`ring-in-use` queues still offer).
        var seatBusy = false
        var callQueue: String?
        var callStartedAt: ACDInstant?
        var times = AgentTimes()
    }

    enum Pending: Sendable, Equatable {
        case notReady(String)
        case logout
        var description: String {
            switch self {
            case .notReady(let reason): "not-ready: \(reason)"
            case .logout: "logged-out"
            }
        }
    }

    struct Queue: Sendable {
        var configuration: QueueConfiguration
        var order: [OrderKey] = []
        /// Members in a stable order (round-robin turns).
        var members: [AgentID] = []
        var lastOffered: AgentID?
        var handlingTimeMs: Double
        var counters = WindowedCounters()
    }

    struct Parked: Sendable {
        var position: PositionKey
        var priority: Int
        var firedRules: Set<RuleID>
        var until: ACDInstant
    }

    private var queues: [String: Queue] = [:]
    private var agents: [AgentID: Agent] = [:]
    private var entries: [EntryID: Entry] = [:]
    private var offers: [OfferID: Offer] = [:]
    private var readyAgents: Set<AgentID> = []
    private var seats: [String: AgentID] = [:]
    /// Places kept for callers who went to the robot (or a callback offer) and may come back.
    private var parked: [String: Parked] = [:]
    /// Callbacks whose agent answered while we dial the citizen.
    private var callbacksInProgress: [EntryID: Entry] = [:]
    private var nextOffer: OfferID = 1
    private var sequence: UInt64 = 0
    private var random: SplitMix64
    /// Offers made (each is one routing decision), for `hotline_acd_decisions_total`.
    public private(set) var decisions: UInt64 = 0
    /// How long a place is kept for a caller who overflowed to a node.
    public var parkRetention: Duration = .seconds(3600)

    public init(queues: [QueueConfiguration], agents: [AgentProfile], seed: UInt64 = 0x1234_5678) {
        random = SplitMix64(seed: seed)
        for q in queues {
            self.queues[q.name] = Queue(configuration: q, handlingTimeMs: Double(q.defaultHandlingTime.acdMilliseconds))
        }
        for a in agents { self.agents[a.id] = Agent(profile: a) }
        rebuildMembers()
    }

    private mutating func rebuildMembers() {
        for name in queues.keys {
            queues[name]!.members = agents.values.filter { $0.profile.queues[name] != nil }.map(\.profile.id).sorted()
        }
    }

    // MARK: Configuration (reload)

    /// New queue and agent settings (a config reload): callers keep their places; an agent
    /// no longer configured is logged out once free; unknown queues' callers stay until they end.
    public mutating func reconfigure(queues newQueues: [QueueConfiguration], agents newAgents: [AgentProfile], at now: ACDInstant) -> [ACDAction] {
        var actions: [ACDAction] = []
        for q in newQueues {
            if queues[q.name] != nil {
                queues[q.name]!.configuration = q
            } else {
                queues[q.name] = Queue(configuration: q, handlingTimeMs: Double(q.defaultHandlingTime.acdMilliseconds))
            }
        }
        let known = Set(newAgents.map(\.id))
        for a in newAgents {
            if agents[a.id] != nil { agents[a.id]!.profile = a } else { agents[a.id] = Agent(profile: a) }
        }
        for id in agents.keys.sorted() where !known.contains(id) {
            if case .loggedOut = agents[id]!.state { agents.removeValue(forKey: id); continue }
            actions += (try? logout(id, at: now)) ?? []
        }
        rebuildMembers()
        dispatch(at: now, into: &actions)
        return actions
    }

    // MARK: Callers

    /// A caller joins `request.queue`. Refused with `left(FULL/JOINEMPTY)`; sent on with
    /// `left(OVERFLOW)` when a join-time overflow rule applies; otherwise `joined` (and maybe
    /// an immediate `offer`). A caller coming back within `parkRetention` after an overflow to
    /// a node gets their original place and priority back.
    public mutating func join(_ request: JoinRequest, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let queue = queues[request.queue] else { throw .unknownQueue(request.queue) }
        var actions: [ACDAction] = []
        if let existing = entries[request.entry] {
            // Already queued (a second enqueue of the same call): leave the old place first.
            actions += remove(existing.request.entry, reason: .abandon, at: now, overflow: nil)
        }
        let config = queue.configuration
        let parkKey = Self.parkKey(request.entry, request.queue)
        var restored = parked.removeValue(forKey: parkKey)
        if let p = restored, p.until < now { restored = nil }
        if !config.joinWhenEmpty && availableMembers(of: request.queue) == 0 {
            queues[request.queue]!.counters.record(at: now) { $0.refused += 1 }
            actions.append(.left(entry: request.entry, queue: request.queue, reason: .joinEmpty, waited: .zero, overflow: nil))
            return actions
        }
        if config.maxLength > 0 && queue.order.count >= config.maxLength && restored == nil {
            queues[request.queue]!.counters.record(at: now) { $0.refused += 1 }
            actions.append(.left(entry: request.entry, queue: request.queue, reason: .full, waited: .zero, overflow: nil))
            return actions
        }
        var req = request
        let position: PositionKey
        if let restored {
            position = restored.position
            req.priority = max(req.priority, restored.priority)
        } else {
            sequence += 1
            position = PositionKey(at: now.milliseconds, sequence: sequence)
        }
        var entry = Entry(request: req, kind: .caller, position: position, joinedAt: now, eligibleAt: now)
        entry.firedRules = restored?.firedRules ?? []
        if config.announceFrequency > .zero {
            entry.nextAnnouncement = now + config.announceFrequency
        }
        insert(entry)
        queues[request.queue]!.counters.record(at: now) { $0.joined += 1 }
        let place = self.position(of: request.entry) ?? 1
        actions.append(.joined(entry: request.entry, queue: request.queue, position: place, predictedWait: predictedWait(queue: request.queue, position: place)))
        // Overflow rules that apply at once (predicted wait, length, nobody available).
        if let rule = firstApplicableRule(for: request.entry, at: now, joining: true) {
            applyOverflow(request.entry, rule: rule, at: now, into: &actions)
        }
        dispatch(at: now, into: &actions)
        return actions
    }

    /// The caller hung up (or the call ended) while in a queue. With `abandonCallbackAfter`
    /// and a waited time at least that long, a call back keeps the place.
    public mutating func abandon(_ entryID: EntryID, at now: ACDInstant) -> [ACDAction] {
        guard let entry = entries[entryID] else { return [] }
        if case .callback = entry.kind { return [] }   // the caller is no longer on the line anyway
        var actions: [ACDAction] = []
        let config = queues[entry.request.queue]!.configuration
        let waited = now - entry.joinedAt
        if let after = config.abandonCallbackAfter, waited >= after, !entry.request.caller.isEmpty {
            // Missed-call callback: recorded as abandoned, the place becomes a call back.
            withdrawOffers(of: entryID, reason: .callerLeft, at: now, into: &actions)
            record(entry, leaving: .abandon, waited: waited, at: now)
            actions.append(.left(entry: entryID, queue: entry.request.queue, reason: .abandon, waited: waited, overflow: nil))
            entries[entryID]!.leftReported = true
            entries[entryID]!.kind = .callback(number: entry.request.caller)
            entries[entryID]!.nextAnnouncement = nil
            queues[entry.request.queue]!.counters.record(at: now) { $0.callbacksScheduled += 1 }
            actions.append(.callbackScheduled(entry: entryID, queue: entry.request.queue, number: entry.request.caller))
            dispatch(at: now, into: &actions)
            return actions
        }
        actions += remove(entryID, reason: .abandon, at: now, overflow: nil)
        dispatch(at: now, into: &actions)
        return actions
    }

    /// The caller asked to be called back at `number` (virtual hold): the place is kept, the
    /// caller may hang up.
    public mutating func requestCallback(_ entryID: EntryID, number: String, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let entry = entries[entryID], case .caller = entry.kind else { throw .unknownEntry(entryID) }
        var actions: [ACDAction] = []
        withdrawOffers(of: entryID, reason: .callerLeft, at: now, into: &actions)
        entries[entryID]!.kind = .callback(number: number)
        entries[entryID]!.nextAnnouncement = nil
        queues[entry.request.queue]!.counters.record(at: now) { $0.callbacksScheduled += 1 }
        actions.append(.callbackScheduled(entry: entryID, queue: entry.request.queue, number: number))
        dispatch(at: now, into: &actions)
        return actions
    }

    /// A supervisor moves a caller to another queue, keeping place time and priority.
    public mutating func move(_ entryID: EntryID, to queue: String, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard entries[entryID] != nil else { throw .unknownEntry(entryID) }
        guard queues[queue] != nil else { throw .unknownQueue(queue) }
        var actions: [ACDAction] = []
        moveEntry(entryID, to: queue, at: now, into: &actions)
        dispatch(at: now, into: &actions)
        return actions
    }

    // MARK: Offers

    /// The agent answered. Nil when the offer is no longer current (the caller left, another
    /// agent won): the runtime hangs up on the agent.
    public mutating func offerAnswered(_ id: OfferID, at now: ACDInstant) -> [ACDAction]? {
        guard let offer = offers.removeValue(forKey: id), var entry = entries[offer.entry] else { return nil }
        var actions: [ACDAction] = []
        entry.offers.remove(id)
        entries[offer.entry] = entry
        withdrawOffers(of: offer.entry, reason: .answeredElsewhere, at: now, into: &actions)
        let waited = now - entry.joinedAt
        removeFromOrder(offer.entry)
        entries.removeValue(forKey: offer.entry)
        if !entry.leftReported {
            record(entry, leaving: .answered, waited: waited, at: now)
            actions.append(.left(entry: offer.entry, queue: offer.queue, reason: .answered, waited: waited, overflow: nil))
        }
        if case .callback = entry.kind {
            entry.leftReported = true
            callbacksInProgress[offer.entry] = entry
        }
        var agent = agents[offer.agent]!
        agent.consecutiveNoAnswer = 0
        agent.answeredByQueue[offer.queue, default: 0] += 1
        agent.callQueue = offer.queue
        agent.callStartedAt = now
        agents[offer.agent] = agent
        setState(offer.agent, .onCall(entry: offer.entry), reason: nil, at: now, into: &actions)
        dispatch(at: now, into: &actions)
        return actions
    }

    /// The offer ended unanswered. The caller goes back to the head of the queue (their place
    /// never changed); the agent is ready again, or not-ready after `maxNoAnswer` in a row or
    /// when their seat is unreachable.
    public mutating func offerFailed(_ id: OfferID, _ failure: OfferFailure, at now: ACDInstant) -> [ACDAction] {
        guard offers[id] != nil else { return [] }
        var actions: [ACDAction] = []
        failOffer(id, failure, at: now, into: &actions)
        expireEntries(at: now, into: &actions)
        dispatch(at: now, into: &actions)
        return actions
    }

    /// The agent's queue call ended: wrap-up (the call's queue's `wrapUp`, once, whatever other
    /// queues the agent serves), then ready, unless a change was asked for during the call.
    public mutating func callEnded(agent id: AgentID, at now: ACDInstant) -> [ACDAction] {
        guard let agent = agents[id], case .onCall = agent.state else { return [] }
        var actions: [ACDAction] = []
        let queueName = agent.callQueue
        if let q = queueName, let started = agent.callStartedAt, queues[q] != nil {
            let handled = Double((now - started).acdMilliseconds + queues[q]!.configuration.wrapUp.acdMilliseconds)
            queues[q]!.handlingTimeMs = queues[q]!.handlingTimeMs * 0.9 + handled * 0.1
        }
        agents[id]!.callQueue = nil
        agents[id]!.callStartedAt = nil
        let wrapUp = queueName.flatMap { queues[$0]?.configuration.wrapUp } ?? .zero
        if let pending = agent.pending {
            agents[id]!.pending = nil
            switch pending {
            case .logout: setState(id, .loggedOut, reason: "requested during the call", at: now, into: &actions)
            case .notReady(let reason): setState(id, .notReady(reason: reason), reason: reason, at: now, into: &actions)
            }
        } else if wrapUp > .zero {
            setState(id, .wrapUp(until: now + wrapUp), reason: nil, at: now, into: &actions)
        } else {
            agents[id]!.idleSince = now
            setState(id, .ready, reason: nil, at: now, into: &actions)
        }
        if agent.pending != nil { expireEntries(at: now, into: &actions) }   // LEAVEEMPTY
        dispatch(at: now, into: &actions)
        return actions
    }

    /// A callback's citizen answered: the conversation goes on as a normal queue call.
    public mutating func callbackConnected(_ entryID: EntryID) {
        callbacksInProgress.removeValue(forKey: entryID)
    }

    /// A callback's citizen did not answer: the agent is free again (no wrap-up) and the
    /// callback waits `callbackRetryDelay` at its old place, until `callbackAttempts` are used.
    public mutating func callbackUnanswered(_ entryID: EntryID, agent id: AgentID, at now: ACDInstant) -> [ACDAction] {
        var actions: [ACDAction] = []
        if let agent = agents[id], case .onCall(let e) = agent.state, e == entryID {
            agents[id]!.callQueue = nil
            agents[id]!.callStartedAt = nil
            if let pending = agent.pending {
                agents[id]!.pending = nil
                switch pending {
                case .logout: setState(id, .loggedOut, reason: nil, at: now, into: &actions)
                case .notReady(let reason): setState(id, .notReady(reason: reason), reason: reason, at: now, into: &actions)
                }
            } else {
                setState(id, .ready, reason: nil, at: now, into: &actions)
            }
            if agent.pending != nil { expireEntries(at: now, into: &actions) }   // LEAVEEMPTY
        }
        if var entry = callbacksInProgress.removeValue(forKey: entryID), case .callback(let number) = entry.kind,
            let queue = queues[entry.request.queue]
        {
            entry.callbackAttempts += 1
            if entry.callbackAttempts >= queue.configuration.callbackAttempts {
                actions.append(.callbackAbandoned(entry: entryID, queue: entry.request.queue, number: number))
            } else {
                entry.offers = []
                entry.eligibleAt = now + queue.configuration.callbackRetryDelay
                insert(entry)
            }
        }
        dispatch(at: now, into: &actions)
        return actions
    }

    // MARK: Agents

    /// Logs `id` in at `seat` (ready, unless `ready` is false).
    /// `seatBusy`: the seat already has a call that is not from a queue (see `seatBusy(_:_:at:)`).
    public mutating func login(_ id: AgentID, seat: String, ready: Bool = true, seatBusy: Bool = false,
                               at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let agent = agents[id] else { throw .unknownAgent(id) }
        if let other = seats[seat], other != id { throw .seatTaken(seat: seat, by: other) }
        guard case .loggedOut = agent.state else {
            if agent.seat == seat { return [] }   // already there
            throw .illegalTransition(agent: id, from: agent.state.name, to: "logged-in",
                                     reason: "already logged in at seat \(agent.seat ?? "?"); log out first")
        }
        var actions: [ACDAction] = []
        agents[id]!.seat = seat
        agents[id]!.seatBusy = seatBusy
        agents[id]!.idleSince = now
        agents[id]!.consecutiveNoAnswer = 0
        seats[seat] = id
        setState(id, ready ? .ready : .notReady(reason: "logged-in"), reason: nil, at: now, into: &actions)
        dispatch(at: now, into: &actions)
        return actions
    }

    /// Logs out; during a call, once the call ends. A ringing offer is withdrawn and the caller
    /// keeps their place.
    public mutating func logout(_ id: AgentID, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let agent = agents[id] else { throw .unknownAgent(id) }
        var actions: [ACDAction] = []
        switch agent.state {
        case .loggedOut:
            return []
        case .onCall:
            agents[id]!.pending = .logout
            return []
        case .reserved:
            withdrawAgentOffers(id, at: now, into: &actions)
        case .ready, .wrapUp, .notReady:
            break
        }
        setState(id, .loggedOut, reason: nil, at: now, into: &actions)
        expireEntries(at: now, into: &actions)   // LEAVEEMPTY if they were the last member
        dispatch(at: now, into: &actions)
        return actions
    }

    /// Ready for calls (ends wrap-up or a break).
    public mutating func setReady(_ id: AgentID, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let agent = agents[id] else { throw .unknownAgent(id) }
        var actions: [ACDAction] = []
        switch agent.state {
        case .loggedOut:
            throw .illegalTransition(agent: id, from: "logged-out", to: "ready", reason: "log in at a seat first")
        case .ready:
            return []
        case .reserved, .onCall:
            if agent.pending != nil {
                agents[id]!.pending = nil   // changed their mind before the call ended
                return []
            }
            let busy: String
            if case .onCall = agent.state { busy = "the agent is on a call" } else { busy = "the agent's phone is ringing for a caller" }
            throw .illegalTransition(agent: id, from: agent.state.name, to: "ready", reason: busy)
        case .wrapUp, .notReady:
            agents[id]!.consecutiveNoAnswer = 0
            agents[id]!.idleSince = now
            setState(id, .ready, reason: nil, at: now, into: &actions)
        }
        dispatch(at: now, into: &actions)
        return actions
    }

    /// Not ready (`reason`: break, training...). During a call it applies when the call ends;
    /// while ringing, the offer is withdrawn and the caller keeps their place.
    public mutating func setNotReady(_ id: AgentID, reason: String, at now: ACDInstant) throws(ACDError) -> [ACDAction] {
        guard let agent = agents[id] else { throw .unknownAgent(id) }
        var actions: [ACDAction] = []
        switch agent.state {
        case .loggedOut:
            throw .illegalTransition(agent: id, from: "logged-out", to: "not-ready", reason: "log in at a seat first")
        case .onCall:
            agents[id]!.pending = .notReady(reason)
            return []
        case .reserved:
            withdrawAgentOffers(id, at: now, into: &actions)
        case .ready, .wrapUp, .notReady:
            break
        }
        setState(id, .notReady(reason: reason), reason: reason, at: now, into: &actions)
        expireEntries(at: now, into: &actions)   // LEAVEEMPTY if they were the last member
        dispatch(at: now, into: &actions)
        return actions
    }

    /// The seat has (or no longer has) a call that is not from a queue.
    public mutating func seatBusy(_ seat: String, _ busy: Bool, at now: ACDInstant) -> [ACDAction] {
        guard let id = seats[seat] else { return [] }
        agents[id]!.seatBusy = busy
        var actions: [ACDAction] = []
        if !busy { dispatch(at: now, into: &actions) }
        return actions
    }

    /// The agent logged in at `seat`, if any.
    public func agent(atSeat seat: String) -> AgentID? { seats[seat] }

    /// The agent whose usual seat is `seat` (`*90`).
    public func agent(usuallyAt seat: String) -> AgentID? {
        agents.values.first { $0.profile.seat == seat }?.profile.id
    }

    // MARK: Time

    /// Runs what is due at `now`: wrap-ups ending, offers ringing too long, timeouts,
    /// overflow on waited time, announcements, leave-when-empty, callbacks due.
    public mutating func tick(at now: ACDInstant) -> [ACDAction] {
        var actions: [ACDAction] = []
        for (id, agent) in agents.sorted(by: { $0.key < $1.key }) {
            if case .wrapUp(let until) = agent.state, until <= now {
                agents[id]!.idleSince = now
                setState(id, .ready, reason: nil, at: now, into: &actions)
            }
        }
        for offer in offers.values.sorted(by: { $0.id < $1.id }) where offer.deadline <= now {
            actions.append(.withdraw(offer, reason: .ringTimeout))
            failOffer(offer.id, .noAnswer, at: now, into: &actions)
        }
        expireEntries(at: now, into: &actions)
        // Announcements.
        for (name, queue) in queues.sorted(by: { $0.key < $1.key }) {
            let frequency = queue.configuration.announceFrequency
            guard frequency > .zero else { continue }
            for (index, key) in queue.order.enumerated() {
                guard let due = entries[key.entry]?.nextAnnouncement, due <= now else { continue }
                entries[key.entry]!.nextAnnouncement = now + frequency
                guard entries[key.entry]!.isWaiting else { continue }   // ringing: skip this one
                actions.append(.announce(entry: key.entry, queue: name, position: index + 1,
                                         predictedWait: predictedWait(queue: name, position: index + 1)))
            }
        }
        // Callbacks whose retry time has come are offered below: no longer a deadline.
        for (id, entry) in entries where entry.eligibleAt > entry.joinedAt && entry.eligibleAt <= now {
            entries[id]!.eligibleAt = entry.joinedAt
        }
        for (key, place) in parked where place.until < now { parked.removeValue(forKey: key) }
        dispatch(at: now, into: &actions)
        return actions
    }

    /// When `tick` has something to do next (nil: nothing is scheduled).
    public func nextDeadline() -> ACDInstant? {
        var next: ACDInstant?
        func consider(_ t: ACDInstant?) { if let t, next == nil || t < next! { next = t } }
        for agent in agents.values { if case .wrapUp(let until) = agent.state { consider(until) } }
        for offer in offers.values { consider(offer.deadline) }
        for (name, queue) in queues {
            let config = queue.configuration
            // The `waited` rules, and whether a rule to another queue could apply now (`tick`
            // skips those that cannot): the same for every caller of this queue.
            let waitedRules: [(rule: RuleID, after: Duration)] = config.overflow.enumerated().compactMap { index, rule in
                guard case .waited(let d) = rule.condition else { return nil }
                if case .queue(let target) = rule.target, !canAccept(target, from: name) { return nil }
                return (RuleID(queue: name, index: index), d)
            }
            for key in queue.order {
                guard let entry = entries[key.entry] else { continue }
                consider(entry.nextAnnouncement)
                switch entry.kind {
                case .caller:
                    // While an offer rings, its deadline comes first (`tick` and `offerFailed`
                    // look at timeouts and overflow again once it failed): no deadline in the past.
                    guard entry.isWaiting else { continue }
                    consider(entry.joinedAt + (entry.request.timeout ?? config.timeout))
                    for (rule, after) in waitedRules where !entry.firedRules.contains(rule) {
                        consider(entry.joinedAt + after)
                    }
                case .callback:
                    if entry.eligibleAt > entry.joinedAt { consider(entry.eligibleAt) }
                }
            }
        }
        return next
    }

    // MARK: Reading

    public func snapshot(queue name: String, at now: ACDInstant) -> QueueSnapshot? {
        guard let queue = queues[name] else { return nil }
        var waiting: [QueueSnapshot.Waiting] = []
        waiting.reserveCapacity(queue.order.count)
        for (index, key) in queue.order.enumerated() {
            guard let e = entries[key.entry] else { continue }
            var callback = false
            if case .callback = e.kind { callback = true }
            waiting.append(.init(entry: key.entry, position: index + 1, priority: e.request.priority, caller: e.request.caller,
                                 waited: now - e.joinedAt, offered: !e.offers.isEmpty, callback: callback))
        }
        let members = queue.members.compactMap { agents[$0] }
        let loggedIn = members.filter { if case .loggedOut = $0.state { false } else { true } }
        return QueueSnapshot(
            name: name, strategy: queue.configuration.strategy, waiting: waiting,
            longestWait: waiting.map(\.waited).max() ?? .zero,
            agentsLoggedIn: loggedIn.count,
            agentsReady: members.filter { $0.state == .ready }.count,
            agentsOnCall: members.filter { if case .onCall = $0.state { true } else { false } }.count,
            predictedWait: predictedWait(queue: name, position: queue.order.count + 1),
            averageHandlingTime: .milliseconds(Int64(queue.handlingTimeMs)),
            total: queue.counters.total, last15Minutes: queue.counters.window(minutes: 15, at: now),
            lastHour: queue.counters.window(minutes: 60, at: now))
    }

    public var queueNames: [String] { queues.keys.sorted() }
    public var agentIDs: [AgentID] { agents.keys.sorted() }
    public func configuration(of queue: String) -> QueueConfiguration? { queues[queue]?.configuration }

    public func snapshot(agent id: AgentID, at now: ACDInstant) -> AgentSnapshot? {
        guard let a = agents[id] else { return nil }
        var times = a.times
        times.add(a.state, ms: (now - a.since).acdMilliseconds)
        return AgentSnapshot(profile: a.profile, state: a.state, since: a.since, seat: a.seat, pending: a.pending?.description,
                             consecutiveNoAnswer: a.consecutiveNoAnswer, answered: a.answeredByQueue.values.reduce(0, +), times: times)
    }

    /// Where the caller is (1: next), nil when not queued.
    public func position(of entryID: EntryID) -> Int? {
        guard let e = entries[entryID], let q = queues[e.request.queue] else { return nil }
        return lowerBound(q.order, e.orderKey) + 1
    }

    public func queue(of entryID: EntryID) -> String? { entries[entryID]?.request.queue }

    /// The caller is owed a call back (waiting for their turn, or being called now).
    public func isCallback(_ entryID: EntryID) -> Bool {
        if callbacksInProgress[entryID] != nil { return true }
        if case .callback? = entries[entryID]?.kind { return true }
        return false
    }
    public var waitingCount: Int { entries.count }
    public func offer(_ id: OfferID) -> Offer? { offers[id] }

    /// Predicted wait for the `position`-th caller: position × average handling time ÷ agents
    /// serving the queue (logged in and not away); nil when nobody serves it.
    public func predictedWait(queue name: String, position: Int) -> Duration? {
        guard let queue = queues[name] else { return nil }
        let serving = availableMembers(of: name)
        guard serving > 0 else { return nil }
        let ahead = max(0, position - readyMembers(of: name))
        return .milliseconds(Int64(Double(ahead) * queue.handlingTimeMs / Double(serving)))
    }

    /// The properties the ACD promises; empty when all hold. For tests and debugging.
    public func invariantViolations(at now: ACDInstant) -> [String] {
        var problems: [String] = []
        var connected: [EntryID: AgentID] = [:]
        for (id, agent) in agents {
            switch agent.state {
            case .onCall(let e):
                if let other = connected[e] { problems.append("caller \(e) is with agents \(other) and \(id)") }
                connected[e] = id
            case .reserved(let e):
                let mine = offers.values.filter { $0.agent == id }
                if mine.count != 1 || mine.first?.entry != e { problems.append("agent \(id) reserved for \(e) with offers \(mine.map(\.entry))") }
            case .ready:
                if !readyAgents.contains(id) { problems.append("agent \(id) ready but not in the ready set") }
                if agent.seat == nil { problems.append("agent \(id) ready without a seat") }
            case .loggedOut, .wrapUp, .notReady:
                if readyAgents.contains(id) { problems.append("agent \(id) \(agent.state.name) but in the ready set") }
            }
        }
        for offer in offers.values {
            guard case .reserved(let e) = agents[offer.agent]?.state, e == offer.entry else {
                problems.append("offer \(offer.id) to \(offer.agent) whose state is \(agents[offer.agent]?.state.name ?? "?")")
                continue
            }
            if entries[offer.entry]?.offers.contains(offer.id) != true { problems.append("offer \(offer.id) not on its caller") }
        }
        for (name, queue) in queues {
            if queue.order != queue.order.sorted() { problems.append("queue \(name) out of order") }
            if Set(queue.order.map(\.entry)).count != queue.order.count { problems.append("queue \(name) lists a caller twice") }
            for key in queue.order {
                guard let e = entries[key.entry], e.request.queue == name else { problems.append("queue \(name) lists unknown \(key.entry)"); continue }
                if connected[key.entry] != nil { problems.append("caller \(key.entry) waits and talks") }
                guard e.isWaiting, e.eligibleAt <= now else { continue }
                for id in queue.members where isAvailable(id, for: name) && agents[id]!.profile.qualifies(for: e.request.skills) {
                    problems.append("agent \(id) idle while \(key.entry) waits in \(name)")
                }
            }
        }
        let listed = queues.values.reduce(0) { $0 + $1.order.count }
        if listed != entries.count { problems.append("\(entries.count) callers but \(listed) listed in queues") }
        return problems
    }

    // MARK: Dispatch

    /// Gives waiting callers to ready agents until no ready agent qualifies for any waiting
    /// caller: the best caller first (priority, then place; across the agent's queues), and
    /// the queue's strategy picks among the lowest-penalty qualifying ready agents.
    private mutating func dispatch(at now: ACDInstant, into actions: inout [ACDAction]) {
        while !readyAgents.isEmpty {
            var best: (key: OrderKey, queue: String, candidates: [AgentID])?
            var queueNames = Set<String>()
            for id in readyAgents { for q in agents[id]!.profile.queues.keys where queues[q] != nil { queueNames.insert(q) } }
            for name in queueNames {
                let queue = queues[name]!
                let ready = queue.members.filter { isAvailable($0, for: name) }
                guard !ready.isEmpty else { continue }
                for key in queue.order {
                    if let b = best, b.key < key { break }   // cannot beat the best found
                    let entry = entries[key.entry]!
                    guard entry.isWaiting, entry.eligibleAt <= now else { continue }
                    let qualified = ready.filter { agents[$0]!.profile.qualifies(for: entry.request.skills) }
                    if qualified.isEmpty { continue }
                    best = (key, name, qualified)
                    break
                }
            }
            guard let best else { return }
            let chosen = choose(from: best.candidates, queue: best.queue, entry: best.key.entry)
            for agent in chosen { makeOffer(entry: best.key.entry, queue: best.queue, agent: agent, at: now, into: &actions) }
        }
    }

    private mutating func choose(from candidates: [AgentID], queue name: String, entry entryID: EntryID) -> [AgentID] {
        let queue = queues[name]!
        let entry = entries[entryID]!
        let agents = self.agents   // read-only copy for the closures below (copy-on-write: free)
        var pool = candidates
        // Agents who already let this caller down ring last.
        let fresh = pool.filter { !entry.failedAgents.contains($0) }
        if !fresh.isEmpty { pool = fresh }
        let penalty = { (id: AgentID) in agents[id]!.profile.queues[name] ?? 0 }
        let lowest = pool.map(penalty).min()!
        pool = pool.filter { penalty($0) == lowest }
        let idle = { (id: AgentID) in agents[id]!.idleSince }
        let longestIdle = { (ids: [AgentID]) -> AgentID in ids.min { (idle($0), $0) < (idle($1), $1) }! }
        switch queue.configuration.strategy {
        case .ringall:
            return pool
        case .longestIdle:
            return [longestIdle(pool)]
        case .roundRobin:
            let members = queue.members
            let start = queue.lastOffered.flatMap { members.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
            for step in 0..<members.count {
                let id = members[(start + step) % members.count]
                if pool.contains(id) { return [id] }
            }
            return [pool[0]]
        case .fewestCalls:
            let calls = { (id: AgentID) in agents[id]!.answeredByQueue[name] ?? 0 }
            let fewest = pool.map(calls).min()!
            return [longestIdle(pool.filter { calls($0) == fewest })]
        case .random:
            return [pool[Int(random.next() % UInt64(pool.count))]]
        case .skills:
            let level = { (id: AgentID) in agents[id]!.profile.level(in: entry.request.skills) }
            let top = pool.map(level).max()!
            return [longestIdle(pool.filter { level($0) == top })]
        }
    }

    private mutating func makeOffer(entry entryID: EntryID, queue name: String, agent id: AgentID, at now: ACDInstant,
                                    into actions: inout [ACDAction]) {
        let entry = entries[entryID]!
        let config = queues[name]!.configuration
        let offer = Offer(id: nextOffer, entry: entryID, queue: name, agent: id, seat: agents[id]!.seat ?? "", kind: entry.kind,
                          caller: entry.request.caller, context: entry.request.context, startedAt: now, deadline: now + config.ringTimeout)
        nextOffer += 1
        decisions += 1
        offers[offer.id] = offer
        entries[entryID]!.offers.insert(offer.id)
        queues[name]!.lastOffered = id
        setState(id, .reserved(entry: entryID), reason: nil, at: now, into: &actions)
        actions.append(.offer(offer))
    }

    // MARK: Internals

    private func isAvailable(_ id: AgentID, for queue: String) -> Bool {
        guard readyAgents.contains(id), let agent = agents[id] else { return false }
        if agent.seatBusy && !(queues[queue]?.configuration.ringInUse ?? false) { return false }
        return true
    }

    /// Members logged in and able to take calls soon (ready, ringing, talking, wrap-up).
    private func availableMembers(of queue: String) -> Int {
        queues[queue]?.members.reduce(0) { n, id in
            switch agents[id]!.state {
            case .ready, .reserved, .onCall, .wrapUp: n + 1
            case .loggedOut, .notReady: n
            }
        } ?? 0
    }

    private func readyMembers(of queue: String) -> Int {
        queues[queue]?.members.reduce(0) { $0 + (readyAgents.contains($1) ? 1 : 0) } ?? 0
    }

    private mutating func setState(_ id: AgentID, _ new: AgentState, reason: String?, at now: ACDInstant, into actions: inout [ACDAction]) {
        let old = agents[id]!.state
        guard old != new else { return }
        agents[id]!.times.add(old, ms: (now - agents[id]!.since).acdMilliseconds)
        agents[id]!.state = new
        agents[id]!.since = now
        if new == .ready { readyAgents.insert(id) } else { readyAgents.remove(id) }
        if case .loggedOut = new {
            if let seat = agents[id]!.seat { seats.removeValue(forKey: seat) }
            agents[id]!.seat = nil
            agents[id]!.pending = nil
            agents[id]!.seatBusy = false
        }
        actions.append(.agentStateChanged(agent: id, from: old, to: new, reason: reason))
    }

    private mutating func failOffer(_ id: OfferID, _ failure: OfferFailure, at now: ACDInstant, into actions: inout [ACDAction]) {
        guard let offer = offers.removeValue(forKey: id) else { return }
        if entries[offer.entry] != nil {
            entries[offer.entry]!.offers.remove(id)
            entries[offer.entry]!.failedAgents.insert(offer.agent)
        }
        guard let agent = agents[offer.agent], case .reserved(let e) = agent.state, e == offer.entry else { return }
        switch failure {
        case .unreachable:
            setState(offer.agent, .notReady(reason: "seat-unreachable"), reason: "seat-unreachable", at: now, into: &actions)
        case .noAnswer, .rejected:
            agents[offer.agent]!.consecutiveNoAnswer += 1
            let limit = agent.profile.maxNoAnswer
            if let pending = agent.pending {
                agents[offer.agent]!.pending = nil
                switch pending {
                case .logout: setState(offer.agent, .loggedOut, reason: nil, at: now, into: &actions)
                case .notReady(let reason): setState(offer.agent, .notReady(reason: reason), reason: reason, at: now, into: &actions)
                }
            } else if limit > 0 && agents[offer.agent]!.consecutiveNoAnswer >= limit {
                setState(offer.agent, .notReady(reason: "no-answer"), reason: "\(limit) offers not answered", at: now, into: &actions)
            } else {
                setState(offer.agent, .ready, reason: nil, at: now, into: &actions)
            }
        }
    }

    /// Withdraws every offer for a caller (answered elsewhere, caller left); agents are ready.
    private mutating func withdrawOffers(of entryID: EntryID, reason: OfferWithdrawal, at now: ACDInstant, into actions: inout [ACDAction]) {
        guard let entry = entries[entryID] else { return }
        for id in entry.offers.sorted() {
            guard let offer = offers.removeValue(forKey: id) else { continue }
            actions.append(.withdraw(offer, reason: reason))
            if case .reserved(let e) = agents[offer.agent]?.state, e == entryID {
                if let pending = agents[offer.agent]!.pending {
                    agents[offer.agent]!.pending = nil
                    switch pending {
                    case .logout: setState(offer.agent, .loggedOut, reason: nil, at: now, into: &actions)
                    case .notReady(let r): setState(offer.agent, .notReady(reason: r), reason: r, at: now, into: &actions)
                    }
                } else {
                    setState(offer.agent, .ready, reason: nil, at: now, into: &actions)
                }
            }
        }
        entries[entryID]!.offers = []
    }

    /// The agent's ringing offer is withdrawn (they logged out or went away); the caller waits on.
    private mutating func withdrawAgentOffers(_ id: AgentID, at now: ACDInstant, into actions: inout [ACDAction]) {
        for offer in offers.values.filter({ $0.agent == id }).sorted(by: { $0.id < $1.id }) {
            offers.removeValue(forKey: offer.id)
            entries[offer.entry]?.offers.remove(offer.id)
            actions.append(.withdraw(offer, reason: .agentUnavailable))
        }
    }

    /// Timeouts, waited-time overflow and leave-when-empty for callers who are not ringing.
    private mutating func expireEntries(at now: ACDInstant, into actions: inout [ACDAction]) {
        for name in queues.keys.sorted() {
            let config = queues[name]!.configuration
            let empty = config.leaveWhenEmpty && availableMembers(of: name) == 0
            for key in queues[name]!.order {
                guard let entry = entries[key.entry], entry.isWaiting, case .caller = entry.kind else { continue }
                if empty {
                    actions += remove(key.entry, reason: .leaveEmpty, at: now, overflow: nil)
                } else if now - entry.joinedAt >= (entry.request.timeout ?? config.timeout) {
                    actions += remove(key.entry, reason: .timeout, at: now, overflow: nil)
                } else if let rule = firstApplicableRule(for: key.entry, at: now, joining: false) {
                    applyOverflow(key.entry, rule: rule, at: now, into: &actions)
                }
            }
        }
    }

    private func firstApplicableRule(for entryID: EntryID, at now: ACDInstant, joining: Bool) -> Int? {
        guard let entry = entries[entryID], case .caller = entry.kind, let queue = queues[entry.request.queue] else { return nil }
        for (index, rule) in queue.configuration.overflow.enumerated()
        where !entry.firedRules.contains(RuleID(queue: entry.request.queue, index: index)) {
            let applies: Bool
            switch rule.condition {
            case .waited(let d):
                applies = now - entry.joinedAt >= d
            case .predictedWait(let limit):
                let place = position(of: entryID) ?? 1
                applies = (predictedWait(queue: entry.request.queue, position: place).map { $0 > limit }) ?? true
            case .length(let n):
                applies = joining && queue.order.count > n   // the order includes the caller joining
            case .availableAgents(let n):
                applies = joining && readyMembers(of: entry.request.queue) <= n
            }
            if applies {
                if case .queue(let target) = rule.target, !canAccept(target, entry: entry) { continue }
                return index
            }
        }
        return nil
    }

    private func canAccept(_ queue: String, entry: Entry) -> Bool {
        canAccept(queue, from: entry.request.queue)
    }

    /// Whether `queue` takes a caller overflowing from `source` now (exists, other, not full,
    /// not refusing empty joins).
    private func canAccept(_ queue: String, from source: String) -> Bool {
        guard let q = queues[queue], queue != source else { return false }
        if q.configuration.maxLength > 0 && q.order.count >= q.configuration.maxLength { return false }
        if !q.configuration.joinWhenEmpty && availableMembers(of: queue) == 0 { return false }
        return true
    }

    private mutating func applyOverflow(_ entryID: EntryID, rule index: Int, at now: ACDInstant, into actions: inout [ACDAction]) {
        guard let entry = entries[entryID] else { return }
        let rule = queues[entry.request.queue]!.configuration.overflow[index]
        entries[entryID]!.firedRules.insert(RuleID(queue: entry.request.queue, index: index))
        switch rule.target {
        case .queue(let target):
            moveEntry(entryID, to: target, at: now, into: &actions)
        case .node, .callback:
            parked[Self.parkKey(entryID, entry.request.queue)] = Parked(
                position: entry.position, priority: entry.request.priority, firedRules: entries[entryID]!.firedRules,
                until: now + parkRetention)
            actions += remove(entryID, reason: .overflow, at: now, overflow: rule.target)
        }
    }

    private mutating func moveEntry(_ entryID: EntryID, to target: String, at now: ACDInstant, into actions: inout [ACDAction]) {
        guard var entry = entries[entryID] else { return }
        let from = entry.request.queue
        guard from != target else { return }
        actions += remove(entryID, reason: .overflow, at: now, overflow: .queue(target))
        entry.request.queue = target
        entry.joinedAt = now
        entry.offers = []
        entry.failedAgents = []
        let config = queues[target]!.configuration
        entry.nextAnnouncement = config.announceFrequency > .zero ? now + config.announceFrequency : nil
        insert(entry)
        guard !entry.leftReported else { return }   // a missed-call callback moves silently
        queues[target]!.counters.record(at: now) { $0.joined += 1 }
        let place = position(of: entryID) ?? 1
        actions.append(.joined(entry: entryID, queue: target, position: place, predictedWait: predictedWait(queue: target, position: place)))
    }

    /// Takes a caller out of their queue (withdrawing offers) and reports `left`.
    private mutating func remove(_ entryID: EntryID, reason: ExitReason, at now: ACDInstant, overflow: OverflowTarget?) -> [ACDAction] {
        guard let entry = entries[entryID] else { return [] }
        var actions: [ACDAction] = []
        withdrawOffers(of: entryID, reason: .callerLeft, at: now, into: &actions)
        removeFromOrder(entryID)
        entries.removeValue(forKey: entryID)
        guard !entry.leftReported else { return actions }
        let waited = now - entry.joinedAt
        record(entry, leaving: reason, waited: waited, at: now, overflow: overflow)
        actions.append(.left(entry: entryID, queue: entry.request.queue, reason: reason, waited: waited, overflow: overflow))
        return actions
    }

    private mutating func record(_ entry: Entry, leaving reason: ExitReason, waited: Duration, at now: ACDInstant, overflow: OverflowTarget? = nil) {
        let name = entry.request.queue
        guard queues[name] != nil else { return }
        let sl = queues[name]!.configuration.serviceLevel
        let ms = waited.acdMilliseconds
        queues[name]!.counters.record(at: now) { c in
            switch reason {
            case .answered:
                c.answered += 1
                c.totalAnswerWaitMs += ms
                c.longestAnswerWaitMs = max(c.longestAnswerWaitMs, ms)
                if waited <= sl { c.answeredWithinServiceLevel += 1 }
            case .abandon:
                c.abandoned += 1
                c.totalAbandonWaitMs += ms
                if waited <= sl { c.abandonedWithinServiceLevel += 1 }
            case .timeout: c.timedOut += 1
            case .leaveEmpty: c.leftEmpty += 1
            case .full, .joinEmpty: c.refused += 1
            case .overflow:
                c.overflowed += 1
                if case .node = overflow { c.overflowedToRobot += 1 }
            }
        }
    }

    private mutating func insert(_ entry: Entry) {
        entries[entry.request.entry] = entry
        let key = entry.orderKey
        let index = lowerBound(queues[entry.request.queue]!.order, key)
        queues[entry.request.queue]!.order.insert(key, at: index)
    }

    private mutating func removeFromOrder(_ entryID: EntryID) {
        guard let entry = entries[entryID] else { return }
        let key = entry.orderKey
        let name = entry.request.queue
        let index = lowerBound(queues[name]!.order, key)
        if index < queues[name]!.order.count, queues[name]!.order[index] == key {
            queues[name]!.order.remove(at: index)
        } else if let i = queues[name]!.order.firstIndex(where: { $0.entry == entryID }) {
            queues[name]!.order.remove(at: i)
        }
    }

    private func lowerBound(_ order: [OrderKey], _ key: OrderKey) -> Int {
        var low = 0, high = order.count
        while low < high {
            let mid = (low + high) / 2
            if order[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func parkKey(_ entry: EntryID, _ queue: String) -> String { "\(queue)\u{0}\(entry)" }
}

/// A small seedable generator (the `random` strategy must be reproducible in tests and in
/// `hotline simulate`).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
