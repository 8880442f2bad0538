/// The identity of a transaction, used by the owner to find the transaction a
/// message belongs to (RFC 3261 §17.1.3 and §17.2.3).
///
/// The owner computes the key from the parsed message; this type only defines
/// the shape and the normalisation rules so that both the insert (when a
/// transaction is created) and the lookup (when a message arrives) agree.
///
/// ## Server transactions (§17.2.3)
///
/// A request matches a server transaction when, for the topmost Via:
/// 1. the `branch` parameter equals the branch of the request that created
///    the transaction,
/// 2. the `sent-by` value equals the one of that request, and
/// 3. the method equals the method of that request, **except** for `ACK`,
///    which matches the `INVITE` transaction it acknowledges (only the ACK
///    for a non-2xx response has the INVITE's branch; the ACK for a 2xx is a
///    separate transaction and normally finds no match, which is fine).
///    `CANCEL` carries the same branch as the INVITE it cancels but is its own
///    transaction, so it is *not* mapped.
///
/// This only works when the branch starts with the magic cookie `z9hG4bK`
/// (RFC 3261 compliant peers). For branches without the cookie (RFC 2543
/// peers) ``server(branch:method:sentBy:)`` returns `nil` and the owner must
/// fall back to the RFC 2543 rules of §17.2.3: key by Request-URI, To tag,
/// From tag, Call-ID, CSeq number and the top Via header (and for an ACK,
/// the To tag of the response it acknowledges). That key can still be
/// expressed with this struct by putting a canonical concatenation of those
/// fields into `branch` (prefixed with something that can never start with
/// the magic cookie, e.g. `"rfc2543:"`).
///
/// ## Client transactions (§17.1.3)
///
/// A response matches a client transaction when the branch of its topmost Via
/// equals the branch we generated and the CSeq method equals the method of
/// the request. `sent-by` is ours and therefore not part of the key; use
/// ``client(branch:cseqMethod:)``.
///
/// ## Normalisation
///
/// * `branch` is compared exactly (case-sensitively), as it is an opaque token
///   we or the peer generated.
/// * `method` is compared exactly (SIP methods are case-sensitive).
/// * `sentBy` should be `host[:port]` with the host lowercased and the port
///   spelled out explicitly (the owner applies the transport's default port,
///   5060 or 5061, when the Via omits it); ``normalizedSentBy(host:port:)``
///   does this.
public struct TransactionKey: Hashable, Sendable {
    /// The RFC 3261 branch magic cookie.
    public static let magicCookie = "z9hG4bK"

    /// Value of the topmost Via's `branch` parameter.
    public var branch: String
    /// The request method, with `ACK` mapped to `INVITE` on the server side.
    public var method: String
    /// Normalised `sent-by` of the topmost Via (empty for client keys).
    public var sentBy: String

    public init(branch: String, method: String, sentBy: String) {
        self.branch = branch
        self.method = method
        self.sentBy = sentBy
    }

    /// Whether `branch` begins with the RFC 3261 magic cookie, i.e. whether
    /// branch-based matching may be used for it.
    public static func isRFC3261Branch(_ branch: String) -> Bool {
        branch.hasPrefix(Self.magicCookie)
    }

    /// The method under which a server-side request is matched: `ACK` maps to
    /// `INVITE`; every other method (including `CANCEL`) maps to itself.
    public static func matchingMethod(forServerRequestMethod method: String) -> String {
        method == "ACK" ? "INVITE" : method
    }

    /// The key of the server transaction an incoming request belongs to, or
    /// `nil` if the branch lacks the magic cookie and the owner has to use the
    /// RFC 2543 matching rules (see the type documentation).
    public static func server(branch: String, method: String, sentBy: String) -> TransactionKey? {
        guard Self.isRFC3261Branch(branch) else {
            return nil
        }
        return TransactionKey(
            branch: branch,
            method: Self.matchingMethod(forServerRequestMethod: method),
            sentBy: sentBy
        )
    }

    /// The key of the client transaction a response belongs to (§17.1.3).
    public static func client(branch: String, cseqMethod: String) -> TransactionKey {
        TransactionKey(branch: branch, method: cseqMethod, sentBy: "")
    }

    /// `host[:port]` with a lowercased host and an explicit port.
    public static func normalizedSentBy(host: String, port: Int) -> String {
        "\(host.lowercased()):\(port)"
    }
}
