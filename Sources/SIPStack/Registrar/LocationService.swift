// The registrar's location service (RFC 3261 §10.3): bindings from an address of
// record to contact addresses, with RFC 5626 instance/reg-id matching. Pure state:
// no I/O, the clock is passed in as seconds (`now`) in any monotonic time base.

import SIPMessages

/// Registrar limits (RFC 3261 §10.3 step 7, §10.2.8, §20.19).
public struct RegistrarPolicy: Sendable, Equatable {
    /// Nonzero intervals below this are refused with 423 and Min-Expires.
    public var minExpires: Int
    /// Longer intervals are shortened to this (the 200 tells the UA).
    public var maxExpires: Int
    /// Used when neither the contact nor the request gives an interval.
    public var defaultExpires: Int
    /// More bindings than this for one AOR are refused with 403.
    public var maxContactsPerAOR: Int

    public init(minExpires: Int = 60, maxExpires: Int = 3600, defaultExpires: Int = 3600, maxContactsPerAOR: Int = 10) {
        self.minExpires = minExpires
        self.maxExpires = maxExpires
        self.defaultExpires = defaultExpires
        self.maxContactsPerAOR = maxContactsPerAOR
    }
}

/// One binding of an address of record to a contact (RFC 3261 §10.3).
public struct Binding<Flow: Sendable>: Sendable {
    /// The account name, e.g. "1001".
    public var aor: String
    /// The Contact as sent, without its `expires` parameter.
    public var contact: NameAddress
    /// When the binding lapses, in the time base of `now`.
    public var expiresAt: Double
    /// Call-ID and CSeq of the REGISTER that last wrote the binding (§10.3 step 7).
    public var callID: String
    public var cseq: UInt32
    /// Contact preference, 0...1 (§20.10).
    public var q: Double
    /// `+sip.instance` value without the surrounding quotes (RFC 5626 §4.1).
    public var instanceID: String?
    /// `reg-id` (RFC 5626 §4.2); only kept together with an instance ID.
    public var regID: Int?
    /// How to reach the contact, e.g. the connection the REGISTER came on.
    public var flow: Flow
    /// "ip:port" of the REGISTER, for logs.
    public var source: String
    public var userAgent: String?
    /// False when keep-alives or requests to the contact fail; such bindings are tried last.
    public var reachable: Bool
    /// Time of the REGISTER that created or last refreshed the binding.
    public var registeredAt: Double

    public init(
        aor: String, contact: NameAddress, expiresAt: Double, callID: String, cseq: UInt32,
        q: Double = 1.0, instanceID: String? = nil, regID: Int? = nil, flow: Flow, source: String,
        userAgent: String? = nil, reachable: Bool = true, registeredAt: Double
    ) {
        self.aor = aor
        self.contact = contact
        self.expiresAt = expiresAt
        self.callID = callID
        self.cseq = cseq
        self.q = q
        self.instanceID = instanceID
        self.regID = regID
        self.flow = flow
        self.source = source
        self.userAgent = userAgent
        self.reachable = reachable
        self.registeredAt = registeredAt
    }

    public func isExpired(now: Double) -> Bool { expiresAt <= now }

    /// Whole seconds left, at least 1 while the binding is live, 0 once expired.
    public func remainingSeconds(now: Double) -> Int {
        let left = expiresAt - now
        guard left > 0 else { return 0 }
        return max(1, Int(left.rounded(.down)))
    }

    /// `<uri>;params;expires=N` for the Contact of a 200 to REGISTER (§10.3 step 8).
    /// Header parameters such as `+sip.instance`, `reg-id` and `q` are kept as sent.
    public func contactHeaderValue(now: Double) -> String {
        var s = "<\(contact.uri.description)>"
        for p in contact.parameters where p.name != "expires" {
            s += ";\(p.name)"
            if let v = p.value { s += "=\(v)" }
        }
        s += ";expires=\(remainingSeconds(now: now))"
        return s
    }
}

extension Binding: Equatable where Flow: Equatable {}

/// The outcome of a REGISTER (RFC 3261 §10.3).
public enum RegistrationResult<Flow: Sendable>: Sendable {
    /// 200: the AOR's current bindings; render them with `expires=` remaining at `now`.
    case ok(bindings: [Binding<Flow>], now: Double)
    /// 423 Interval Too Brief with `Min-Expires: minExpires` (§10.3 step 7).
    case intervalTooBrief(minExpires: Int)
    /// 400: `*` with other contacts or a nonzero expiry, unparsable Contact, missing Call-ID/CSeq.
    case invalid(reason: String)
    /// 500: a binding was written by the same Call-ID with a CSeq not lower (§10.3 step 7).
    case outOfOrder
    /// 403: the request would leave more than `limit` bindings.
    case tooManyContacts(limit: Int)
}

/// Bindings for all AORs. A value type: the owner (an actor or an event loop) holds it.
public struct LocationService<Flow: Sendable>: Sendable {
    private var table: [String: [Binding<Flow>]] = [:]

    public init() {}

    /// Total bindings held, including expired ones not yet removed by `expire(now:)`.
    public var count: Int { table.values.reduce(0) { $0 + $1.count } }

    /// Number of AORs with at least one binding held.
    public var aorCount: Int { table.count }

    // MARK: - REGISTER

    /// Processes a REGISTER for `aor` (already authenticated and authorised),
    /// RFC 3261 §10.3 steps 6 to 8. Changes are applied all-or-nothing; a query
    /// (no Contact) changes nothing.
    public mutating func register(
        aor: String, request: SIPRequest, flow: Flow, source: String, now: Double, policy: RegistrarPolicy
    ) -> RegistrationResult<Flow> {
        guard let callID = request.callID, !callID.isEmpty else { return .invalid(reason: "missing Call-ID") }
        guard let cseq = request.cseq else { return .invalid(reason: "missing or invalid CSeq") }
        let headerExpires = request.headers["Expires"].flatMap(parseDeltaSeconds)

        // Expired bindings take no part; they stay for `expire(now:)` to report unless
        // this request registers the same contact again.
        let held = table[aor] ?? []
        var current = held.filter { !$0.isExpired(now: now) }
        var stale = held.filter { $0.isExpired(now: now) }

        let requested: [RequestedContact]
        switch parseContacts(request.headers.values("Contact"), headerExpires: headerExpires, policy: policy) {
        case .query:
            return .ok(bindings: sorted(current), now: now)
        case .invalid(let reason):
            return .invalid(reason: reason)
        case .wildcard:
            // §10.3 step 6: `*` is valid only alone and with Expires: 0.
            guard headerExpires == 0 else { return .invalid(reason: "Contact: * requires Expires: 0") }
            if current.contains(where: { $0.callID == callID && cseq.sequence <= $0.cseq }) {
                return .outOfOrder
            }
            commit(aor: aor, stale)
            return .ok(bindings: [], now: now)
        case .contacts(let list):
            requested = list
        }

        // §10.3 step 7: 423 for the whole request before anything changes.
        if requested.contains(where: { $0.expires != 0 && $0.expires < policy.minExpires }) {
            return .intervalTooBrief(minExpires: policy.minExpires)
        }

        // Bindings touched by this request: a contact listed twice is not "out of order".
        var touched = Array(repeating: false, count: current.count)
        for r in requested {
            if r.expires != 0 { stale.removeAll { bindingMatches($0, r) } }
            let match = current.indices.first { i in bindingMatches(current[i], r) }
            if let i = match {
                if !touched[i] && current[i].callID == callID && cseq.sequence <= current[i].cseq {
                    return .outOfOrder
                }
                if r.expires == 0 {
                    current.remove(at: i)
                    touched.remove(at: i)
                } else {
                    current[i] = makeBinding(aor: aor, r, callID: callID, cseq: cseq.sequence, flow: flow,
                                             source: source, request: request, now: now)
                    touched[i] = true
                }
            } else if r.expires != 0 {
                current.append(makeBinding(aor: aor, r, callID: callID, cseq: cseq.sequence, flow: flow,
                                           source: source, request: request, now: now))
                touched.append(true)
            }
        }
        if current.count > policy.maxContactsPerAOR {
            return .tooManyContacts(limit: policy.maxContactsPerAOR)
        }
        commit(aor: aor, current + stale)
        return .ok(bindings: sorted(current), now: now)
    }

    // MARK: - Lookup and maintenance

    /// Live bindings of `aor`, in the order to try them: reachable first, then q
    /// descending, then the most recently registered first.
    public func bindings(for aor: String, now: Double) -> [Binding<Flow>] {
        sorted((table[aor] ?? []).filter { !$0.isExpired(now: now) })
    }

    /// All live bindings, grouped by AOR (AORs in ascending order).
    /// Whether any unexpired binding satisfies `predicate`; no sorting, no copies (it runs
    /// per INVITE from a trunk network).
    public func containsBinding(now: Double, where predicate: (Binding<Flow>) -> Bool) -> Bool {
        table.values.contains { list in list.contains { !$0.isExpired(now: now) && predicate($0) } }
    }

    public func allBindings(now: Double) -> [Binding<Flow>] {
        table.keys.sorted().flatMap { bindings(for: $0, now: now) }
    }

    /// Removes and returns the bindings whose time is up.
    public mutating func expire(now: Double) -> [Binding<Flow>] {
        removeAll { $0.isExpired(now: now) }
    }

    /// Removes and returns the bindings for which `predicate` holds, e.g. all
    /// bindings on a connection that closed (RFC 5626 §7: flow failure).
    @discardableResult
    public mutating func removeAll(where predicate: (Binding<Flow>) -> Bool) -> [Binding<Flow>] {
        var removed: [Binding<Flow>] = []
        for aor in Array(table.keys) {
            guard let list = table[aor] else { continue }
            var kept: [Binding<Flow>] = []
            for b in list {
                if predicate(b) { removed.append(b) } else { kept.append(b) }
            }
            if kept.count != list.count { commit(aor: aor, kept) }
        }
        return removed
    }

    /// Marks the binding of `aor` whose contact URI is `contact` (a URI, with or
    /// without `<>`) as reachable or not. Returns false when there is no such binding.
    @discardableResult
    public mutating func setReachable(aor: String, contact: String, reachable: Bool) -> Bool {
        guard var list = table[aor] else { return false }
        let wanted = parseContactURI(contact)
        var found = false
        for i in list.indices {
            let uri = list[i].contact.uri
            let same = wanted.map { registrarURIsEqual(uri, $0) } ?? (uri.description == contact)
            if same {
                list[i].reachable = reachable
                found = true
            }
        }
        if found { table[aor] = list }
        return found
    }

    /// Removes and returns all bindings of `aor` (e.g. the account was deleted).
    @discardableResult
    public mutating func remove(aor: String) -> [Binding<Flow>] {
        table.removeValue(forKey: aor) ?? []
    }

    /// Contact header values for a 200 to REGISTER (§10.3 step 8), one per binding,
    /// e.g. `<sip:1001@127.0.0.1:5062>;expires=3599`.
    public func contactHeaderValues(_ bindings: [Binding<Flow>], now: Double) -> [String] {
        bindings.map { $0.contactHeaderValue(now: now) }
    }

    // MARK: - Private

    private mutating func commit(aor: String, _ list: [Binding<Flow>]) {
        table[aor] = list.isEmpty ? nil : list
    }

    private func sorted(_ list: [Binding<Flow>]) -> [Binding<Flow>] {
        list.sorted { a, b in
            if a.reachable != b.reachable { return a.reachable }
            if a.q != b.q { return a.q > b.q }
            if a.registeredAt != b.registeredAt { return a.registeredAt > b.registeredAt }
            return a.contact.uri.description < b.contact.uri.description
        }
    }

    private func makeBinding(
        aor: String, _ r: RequestedContact, callID: String, cseq: UInt32, flow: Flow, source: String,
        request: SIPRequest, now: Double
    ) -> Binding<Flow> {
        Binding(
            aor: aor, contact: r.address, expiresAt: now + Double(r.expires), callID: callID, cseq: cseq,
            q: r.q, instanceID: r.instanceID, regID: r.regID, flow: flow, source: source,
            userAgent: request.headers["User-Agent"], reachable: true, registeredAt: now)
    }

    /// RFC 5626 §6: with `+sip.instance` a binding is keyed by instance and reg-id;
    /// otherwise by contact URI (RFC 3261 §10.3 step 7, §19.1.4).
    private func bindingMatches(_ b: Binding<Flow>, _ r: RequestedContact) -> Bool {
        if let instance = r.instanceID {
            return b.instanceID == instance && b.regID == r.regID
        }
        return registrarURIsEqual(b.contact.uri, r.address.uri)
    }
}

// MARK: - Contact parsing

/// One Contact of a REGISTER, with its expiry resolved (§10.3 step 7).
private struct RequestedContact {
    var address: NameAddress
    /// Seconds, already clamped to the policy maximum; 0 removes.
    var expires: Int
    var q: Double
    var instanceID: String?
    var regID: Int?
}

private enum ParsedContacts {
    case query
    case wildcard
    case contacts([RequestedContact])
    case invalid(String)
}

private func parseContacts(_ values: [String], headerExpires: Int?, policy: RegistrarPolicy) -> ParsedContacts {
    if values.isEmpty { return .query }
    if values.contains("*") {
        return values.count == 1 ? .wildcard : .invalid("Contact: * combined with other contacts")
    }
    var out: [RequestedContact] = []
    for value in values {
        var address: NameAddress
        do {
            address = try NameAddress.parse(value)
        } catch {
            return .invalid("invalid Contact \"\(value)\": \(error.reason)")
        }
        // Contact `expires`, else Expires header, else the default (§10.3 step 7).
        // An unparsable value counts as absent.
        var expires = policy.defaultExpires
        if let e = headerExpires { expires = e }
        if case .some(.some(let v)) = address.parameter("expires"), let e = parseDeltaSeconds(v) { expires = e }
        expires = min(expires, policy.maxExpires)
        address.parameters.removeAll { $0.name == "expires" }

        var q = 1.0
        if case .some(.some(let v)) = address.parameter("q") {
            guard let parsed = Double(v), parsed >= 0, parsed <= 1 else {
                return .invalid("invalid q value \"\(v)\" in Contact")
            }
            q = parsed
        }
        var instanceID: String? = nil
        if case .some(.some(let v)) = address.parameter("+sip.instance") {
            let bare = unquoted(v)
            if !bare.isEmpty { instanceID = bare }
        }
        var regID: Int? = nil
        // RFC 5626 §6: reg-id without +sip.instance is ignored.
        if instanceID != nil, case .some(.some(let v)) = address.parameter("reg-id") {
            guard let n = Int(v), n > 0 else { return .invalid("invalid reg-id \"\(v)\" in Contact") }
            regID = n
        }
        out.append(RequestedContact(address: address, expires: expires, q: q, instanceID: instanceID, regID: regID))
    }
    return .contacts(out)
}

/// delta-seconds (§20.19, §20.10); values above 2^32-1 are taken as 2^32-1.
private func parseDeltaSeconds(_ text: String) -> Int? {
    var value: UInt64 = 0
    var digits = 0
    for c in text.utf8 {
        if c == 32 || c == 9 { if digits == 0 { continue } else { break } }
        guard c >= 48, c <= 57 else { return nil }
        value = min(value * 10 + UInt64(c - 48), UInt64(UInt32.max))
        digits += 1
    }
    return digits > 0 ? Int(value) : nil
}

private func unquoted(_ s: String) -> String {
    if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") {
        return String(s.dropFirst().dropLast())
    }
    return s
}

private func parseContactURI(_ text: String) -> SIPURI? {
    if let a = try? NameAddress.parse(text) { return a.uri }
    return try? SIPURI.parse(text)
}

/// URI equality for binding matching, a simplified RFC 3261 §19.1.4: scheme, user
/// (case-sensitive), host (case-insensitive), port with its default and the
/// `transport` parameter must agree; other parameters are ignored.
func registrarURIsEqual(_ a: SIPURI, _ b: SIPURI) -> Bool {
    guard a.scheme == b.scheme else { return false }
    if a.opaque != nil || b.opaque != nil { return a.opaque == b.opaque }
    guard a.user == b.user, a.host.lowercased() == b.host.lowercased() else { return false }
    let defaultPort = a.scheme == "sips" ? 5061 : 5060
    guard (a.port ?? defaultPort) == (b.port ?? defaultPort) else { return false }
    let ta = a.parameter("transport").flatMap { $0 }?.lowercased()
    let tb = b.parameter("transport").flatMap { $0 }?.lowercased()
    return ta == tb
}
