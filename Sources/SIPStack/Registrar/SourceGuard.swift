// Per-source defences against floods and password guessing, and overload
// protection for new calls. Pure state: no I/O, time is `now` in seconds.

/// A token bucket: `burst` tokens at most, refilled at `ratePerSecond`.
public struct TokenBucket: Sendable, Equatable {
    public var ratePerSecond: Double
    public var burst: Double
    /// Tokens as of `lastRefill`.
    public private(set) var tokens: Double
    public private(set) var lastRefill: Double?

    /// Starts full.
    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = max(0, ratePerSecond)
        self.burst = max(1, burst)
        self.tokens = self.burst
        self.lastRefill = nil
    }

    /// Tokens available at `now`. A clock that goes backwards adds nothing.
    public func available(now: Double) -> Double {
        guard let last = lastRefill else { return tokens }
        let elapsed = max(0, now - last)
        return min(burst, tokens + elapsed * ratePerSecond)
    }

    public func isFull(now: Double) -> Bool { available(now: now) >= burst }

    /// Takes one token if there is one.
    public mutating func take(now: Double) -> Bool {
        tokens = available(now: now)
        lastRefill = max(now, lastRefill ?? now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whole seconds until a token is available (at least 1 when none is now).
    public func secondsUntilAvailable(now: Double) -> Int {
        let missing = 1 - available(now: now)
        guard missing > 0 else { return 0 }
        guard ratePerSecond > 0 else { return Int(Int32.max) }
        return max(1, Int((missing / ratePerSecond).rounded(.up)))
    }
}

/// Rate limits per source IP and blocking after repeated authentication failures.
public struct SourceGuard: Sendable {
    public struct Policy: Sendable, Equatable {
        public var invitesPerSecond: Double
        public var inviteBurst: Int
        public var registersPerSecond: Double
        public var registerBurst: Int
        /// This many failures inside `failureWindow` seconds block the source.
        public var maxAuthFailures: Int
        public var failureWindow: Double
        /// Seconds a source stays blocked.
        public var blockDuration: Double
        /// Bound on the sources tracked; beyond it idle, then oldest, entries go.
        public var maxTrackedSources: Int
        /// Source IPs (exact strings) never limited nor blocked, e.g. a trunk provider.
        public var exemptSources: [String]

        public init(
            invitesPerSecond: Double = 20, inviteBurst: Int = 40,
            registersPerSecond: Double = 10, registerBurst: Int = 20,
            maxAuthFailures: Int = 10, failureWindow: Double = 60, blockDuration: Double = 600,
            maxTrackedSources: Int = 100_000, exemptSources: [String] = []
        ) {
            self.invitesPerSecond = invitesPerSecond
            self.inviteBurst = inviteBurst
            self.registersPerSecond = registersPerSecond
            self.registerBurst = registerBurst
            self.maxAuthFailures = maxAuthFailures
            self.failureWindow = failureWindow
            self.blockDuration = blockDuration
            self.maxTrackedSources = maxTrackedSources
            self.exemptSources = exemptSources
        }
    }

    public enum RequestClass: Sendable, Equatable {
        case invite, register, other
    }

    public enum Verdict: Sendable, Equatable {
        case allow
        /// Answer 503 with Retry-After (or drop, for UDP floods).
        case rateLimited(retryAfter: Int)
        /// Drop or answer 403 until `until`.
        case blocked(until: Double)
    }

    public struct BlockedSource: Sendable, Equatable {
        public var source: String
        public var until: Double
    }

    private struct Entry: Sendable {
        var invites: TokenBucket
        var registers: TokenBucket
        /// Times of recent failures, oldest first, at most `maxAuthFailures`.
        var failures: [Double] = []
        var blockedUntil: Double?
        var lastSeen: Double
    }

    public var policy: Policy {
        didSet { exempt = Set(policy.exemptSources) }
    }
    private var exempt: Set<String>
    private var entries: [String: Entry] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
        self.exempt = Set(policy.exemptSources)
    }

    /// Sources currently tracked (bounded by `policy.maxTrackedSources`).
    public var trackedCount: Int { entries.count }

    /// Decides on a request from `source` (an IP address, no port). Blocked sources
    /// get `.blocked` for everything; `.other` requests are never rate limited.
    public mutating func admit(source: String, class requestClass: RequestClass, now: Double) -> Verdict {
        if exempt.contains(source) { return .allow }
        if var e = entries[source], let until = e.blockedUntil {
            if until > now { return .blocked(until: until) }
            e.blockedUntil = nil
            entries[source] = e
        }
        if requestClass == .other { return .allow }

        var e = entries[source] ?? newEntry(now: now)
        e.lastSeen = max(e.lastSeen, now)
        let verdict: Verdict
        switch requestClass {
        case .invite:
            verdict = e.invites.take(now: now) ? .allow : .rateLimited(retryAfter: e.invites.secondsUntilAvailable(now: now))
        case .register:
            verdict = e.registers.take(now: now) ? .allow : .rateLimited(retryAfter: e.registers.secondsUntilAvailable(now: now))
        case .other:
            verdict = .allow
        }
        store(source, e, now: now)
        return verdict
    }

    /// Counts an authentication failure (401/403 after a wrong password) from `source`.
    /// Returns true when this failure blocks the source: the `maxAuthFailures`-th
    /// inside `failureWindow`.
    @discardableResult
    public mutating func recordAuthFailure(source: String, now: Double) -> Bool {
        if exempt.contains(source) { return false }
        var e = entries[source] ?? newEntry(now: now)
        e.lastSeen = max(e.lastSeen, now)
        if let until = e.blockedUntil, until > now {
            entries[source] = e
            return false
        }
        e.blockedUntil = nil
        e.failures.removeAll { $0 <= now - policy.failureWindow }
        e.failures.append(now)
        var newlyBlocked = false
        if e.failures.count >= max(1, policy.maxAuthFailures) {
            e.blockedUntil = now + policy.blockDuration
            e.failures.removeAll()
            newlyBlocked = true
        }
        store(source, e, now: now)
        return newlyBlocked
    }

    /// A successful authentication clears the failure count (not an active block).
    public mutating func recordAuthSuccess(source: String) {
        guard var e = entries[source], !e.failures.isEmpty else { return }
        e.failures.removeAll()
        entries[source] = e
    }

    public func isBlocked(source: String, now: Double) -> Bool {
        if exempt.contains(source) { return false }
        guard let until = entries[source]?.blockedUntil else { return false }
        return until > now
    }

    /// Sources blocked at `now`, the soonest to be released first.
    public func blockedSources(now: Double) -> [BlockedSource] {
        entries.compactMap { source, e in
            guard let until = e.blockedUntil, until > now else { return nil }
            return BlockedSource(source: source, until: until)
        }
        .sorted { $0.until != $1.until ? $0.until < $1.until : $0.source < $1.source }
    }

    /// Lifts a block (an operator's decision). Returns false when the source was not blocked.
    @discardableResult
    public mutating func unblock(source: String) -> Bool {
        guard var e = entries[source], e.blockedUntil != nil else { return false }
        e.blockedUntil = nil
        e.failures.removeAll()
        entries[source] = e
        return true
    }

    // MARK: - Private

    private func newEntry(now: Double) -> Entry {
        Entry(
            invites: TokenBucket(ratePerSecond: policy.invitesPerSecond, burst: Double(policy.inviteBurst)),
            registers: TokenBucket(ratePerSecond: policy.registersPerSecond, burst: Double(policy.registerBurst)),
            lastSeen: now)
    }

    private mutating func store(_ source: String, _ e: Entry, now: Double) {
        let isNew = entries.updateValue(e, forKey: source) == nil
        if isNew && entries.count > policy.maxTrackedSources { prune(now: now, keeping: source) }
    }

    /// Forgets idle sources (their state equals a fresh entry's), then the least
    /// recently seen down to 90% of the bound, so that pruning stays rare.
    private mutating func prune(now: Double, keeping keep: String) {
        let limit = max(1, policy.maxTrackedSources)
        let target = max(1, limit - limit / 10)
        entries = entries.filter { $0.key == keep || !isIdle($0.value, now: now) }
        guard entries.count > target else { return }
        // Unblocked sources go first; blocked ones only if nothing else is left.
        let victims = entries.filter { $0.key != keep }
            .sorted { a, b in
                let ab = (a.value.blockedUntil ?? 0) > now, bb = (b.value.blockedUntil ?? 0) > now
                if ab != bb { return !ab }
                return a.value.lastSeen < b.value.lastSeen
            }
        for (source, _) in victims.prefix(entries.count - target) {
            entries[source] = nil
        }
    }

    private func isIdle(_ e: Entry, now: Double) -> Bool {
        e.failures.isEmpty && (e.blockedUntil.map { $0 <= now } ?? true)
            && e.invites.isFull(now: now) && e.registers.isFull(now: now)
    }
}

/// Overload protection for new calls: a bound on concurrent calls and on the
/// rate of new INVITEs. Established calls are never affected; this only gates
/// initial INVITEs (answer 503 with Retry-After, RFC 3261 §21.5.4).
public struct AdmissionControl: Sendable {
    public struct Policy: Sendable, Equatable {
        public var maxConcurrentCalls: Int
        public var maxCallsPerSecond: Double
        /// Retry-After seconds suggested to refused callers.
        public var retryAfter: Int

        public init(maxConcurrentCalls: Int = 2000, maxCallsPerSecond: Double = 200, retryAfter: Int = 5) {
            self.maxConcurrentCalls = maxConcurrentCalls
            self.maxCallsPerSecond = maxCallsPerSecond
            self.retryAfter = retryAfter
        }
    }

    public enum Decision: Sendable, Equatable {
        case admit
        case overloaded(retryAfter: Int, reason: String)
    }

    public var policy: Policy {
        didSet { rate = TokenBucket(ratePerSecond: policy.maxCallsPerSecond, burst: policy.maxCallsPerSecond) }
    }
    private var rate: TokenBucket

    public init(policy: Policy = Policy()) {
        self.policy = policy
        self.rate = TokenBucket(ratePerSecond: policy.maxCallsPerSecond, burst: policy.maxCallsPerSecond)
    }

    /// Decides on a new call, given the calls in progress (not counting this one).
    public mutating func admitCall(activeCalls: Int, now: Double) -> Decision {
        if activeCalls >= policy.maxConcurrentCalls {
            return .overloaded(retryAfter: policy.retryAfter, reason: "too many concurrent calls (\(policy.maxConcurrentCalls))")
        }
        if !rate.take(now: now) {
            let wait = max(policy.retryAfter, rate.secondsUntilAvailable(now: now))
            return .overloaded(retryAfter: wait, reason: "call rate above \(formatRate(policy.maxCallsPerSecond))/s")
        }
        return .admit
    }
}

private func formatRate(_ r: Double) -> String {
    r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(r)
}
