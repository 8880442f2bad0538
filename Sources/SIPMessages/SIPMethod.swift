/// A SIP request method. Methods are case-sensitive tokens (RFC 3261 §7.1);
/// equality and hashing are by `name`, so `.other("INVITE") == .invite`.
public enum SIPMethod: Hashable, Sendable, CustomStringConvertible {
    case invite, ack, bye, cancel, options, register, info, update, refer, notify, subscribe, message, prack, publish
    /// Extension method (a token), kept exactly as received.
    case other(String)

    /// `"INVITE"` → `.invite`; anything else (including `"invite"`) → `.other`.
    public init(_ token: String) {
        switch token {
        case "INVITE": self = .invite
        case "ACK": self = .ack
        case "BYE": self = .bye
        case "CANCEL": self = .cancel
        case "OPTIONS": self = .options
        case "REGISTER": self = .register
        case "INFO": self = .info
        case "UPDATE": self = .update
        case "REFER": self = .refer
        case "NOTIFY": self = .notify
        case "SUBSCRIBE": self = .subscribe
        case "MESSAGE": self = .message
        case "PRACK": self = .prack
        case "PUBLISH": self = .publish
        default: self = .other(token)
        }
    }

    /// The method token, e.g. `"INVITE"`.
    public var name: String {
        switch self {
        case .invite: return "INVITE"
        case .ack: return "ACK"
        case .bye: return "BYE"
        case .cancel: return "CANCEL"
        case .options: return "OPTIONS"
        case .register: return "REGISTER"
        case .info: return "INFO"
        case .update: return "UPDATE"
        case .refer: return "REFER"
        case .notify: return "NOTIFY"
        case .subscribe: return "SUBSCRIBE"
        case .message: return "MESSAGE"
        case .prack: return "PRACK"
        case .publish: return "PUBLISH"
        case .other(let s): return s
        }
    }

    public var description: String { name }

    public static func == (lhs: SIPMethod, rhs: SIPMethod) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}
