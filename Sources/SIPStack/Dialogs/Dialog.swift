import SIPMessages

/// RFC 3261 §12: the state of one dialog, from our side. A value type: the invite session that
/// owns it builds in-dialog requests from it and feeds it the remote CSeq numbers.
public struct Dialog: Sendable {
    public let callID: String
    /// Our From (as UAC) or To (as UAS) name-addr, with our tag.
    public let local: NameAddress
    /// The peer's name-addr, with its tag.
    public var remote: NameAddress
    /// §12.1: the peer's Contact; the Request-URI of in-dialog requests.
    public var remoteTarget: SIPURI
    /// §12.1.1, §12.1.2: Record-Route as the UAS saw it, reversed for the UAC.
    public var routeSet: [NameAddress]
    public var localSequence: UInt32
    public var remoteSequence: UInt32?
    /// A `sips:` Request-URI over TLS (§12.1.1): in-dialog requests stay on TLS.
    public var secure: Bool

    public var localTag: String { local.tag ?? "" }
    public var remoteTag: String { remote.tag ?? "" }
    var key: DialogKey { DialogKey(callID: callID, localTag: localTag, remoteTag: remoteTag) }

    public init(
        callID: String, local: NameAddress, remote: NameAddress, remoteTarget: SIPURI, routeSet: [NameAddress],
        localSequence: UInt32, remoteSequence: UInt32?, secure: Bool
    ) {
        self.callID = callID
        self.local = local
        self.remote = remote
        self.remoteTarget = remoteTarget
        self.routeSet = routeSet
        self.localSequence = localSequence
        self.remoteSequence = remoteSequence
        self.secure = secure
    }

    /// §12.1.1: the UAS side of a dialog created by `request`, answered with `localTag`.
    public static func uas(request: SIPRequest, localTag: String) -> Dialog? {
        guard let callID = request.callID, var local = request.to, let remote = request.from else { return nil }
        local.setTag(localTag)
        let target = request.headers.values("Contact").first.flatMap { try? NameAddress.parse($0).uri } ?? remote.uri
        return Dialog(
            callID: callID, local: local, remote: remote, remoteTarget: target,
            routeSet: request.headers.values("Record-Route").compactMap { try? NameAddress.parse($0) },
            localSequence: 0, remoteSequence: request.cseq?.sequence, secure: request.uri.scheme == "sips")
    }

    /// §12.1.2: the UAC side of a dialog created by a 2xx or 1xx with a To tag to `request`.
    public static func uac(request: SIPRequest, response: SIPResponse) -> Dialog? {
        guard let callID = request.callID, let local = request.from, let remote = response.to, remote.tag != nil else { return nil }
        let target = response.headers.values("Contact").first.flatMap { try? NameAddress.parse($0).uri } ?? request.uri
        return Dialog(
            callID: callID, local: local, remote: remote, remoteTarget: target,
            routeSet: response.headers.values("Record-Route").compactMap { try? NameAddress.parse($0) }.reversed(),
            localSequence: request.cseq?.sequence ?? 1, remoteSequence: nil, secure: request.uri.scheme == "sips")
    }

    /// §12.2.1.1: a new in-dialog request (without Via; the transaction layer adds it). Takes the
    /// next local CSeq unless `sequence` is given (ACK and CANCEL reuse the INVITE's).
    public mutating func makeRequest(_ method: SIPMethod, sequence: UInt32? = nil) -> SIPRequest {
        let cseq: UInt32
        if let sequence {
            cseq = sequence
        } else {
            localSequence += 1
            cseq = localSequence
        }
        var uri = remoteTarget
        var routes = routeSet
        // A strict router at the head of the route set (no `lr`) takes the Request-URI; the
        // remote target goes last (§12.2.1.1).
        if let first = routes.first, first.uri.parameter("lr") == nil {
            uri = first.uri
            uri.parameters.removeAll { ["method", "maddr", "ttl", "transport", "lr"].contains($0.name.lowercased()) }
            routes.removeFirst()
            routes.append(NameAddress(uri: remoteTarget))
        }
        var request = SIPRequest(method: method, uri: uri)
        request.headers.add("Max-Forwards", "70")
        for route in routes { request.headers.add("Route", route.description) }
        request.headers.add("From", local.description)
        request.headers.add("To", remote.description)
        request.headers.add("Call-ID", callID)
        request.headers.add("CSeq", CSeq(sequence: cseq, method: method).description)
        return request
    }

    /// §12.2.2: a request whose CSeq is lower than the last one is out of order (500).
    public mutating func acceptRemoteSequence(_ sequence: UInt32, method: SIPMethod) -> Bool {
        if method == .ack || method == .cancel { return true }
        if let last = remoteSequence, sequence <= last { return false }
        remoteSequence = sequence
        return true
    }

    /// §12.2.1.1: where the request goes first: the first route, else the remote target.
    public var nextHop: SIPURI { routeSet.first?.uri ?? remoteTarget }
}

extension NameAddress {
    mutating func setTag(_ tag: String) {
        parameters.removeAll { $0.name.lowercased() == "tag" }
        parameters.append(URIParameter(name: "tag", value: tag))
    }
}
