import Foundation
import HotlineCore

/// What the interpreter needs from a call. The daemon's `Call` implements it over SIP and RTP;
/// tests use a fake with a virtual clock. Every operation that needs the caller throws
/// `CallEnded` once the caller has gone.
public protocol DialplanCall: Sendable {
    var id: CallIdentifier { get }
    var callerNumber: String { get }
    var calledNumber: String { get }

    /// Answers (200 OK) and returns once the caller's ACK arrived. Called at most once.
    func answer() async throws(CallEnded)

    /// Plays prompts in `voice` (`normal`, `elderly`) falling back to the normal prompt. A key
    /// pressed during an interruptible prompt stops it and stays queued for `collectDigit`.
    func play(_ prompts: [String], language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome

    /// Speaks `text` with the TTS engine in `language`.
    func say(_ text: String, language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome

    /// The next key (queued keys first), or nil after `timeout`.
    func collectDigit(timeout: Duration) async throws(CallEnded) -> Character?

    /// Waits in an ACD queue. Returns `.connected` once the caller was connected to an agent
    /// and that conversation ended; `.left` when the caller left the queue without one.
    func enqueue(_ request: QueueRequest) async throws(CallEnded) -> QueueOutcome

    /// Calls a target and bridges the caller to it (or blind-transfers the caller). Returns
    /// `.connected` once the conversation ended or the caller was transferred away.
    func dial(_ request: DialRequest) async throws(CallEnded) -> DialOutcome

    /// Records a message from the caller; nil when nothing was said.
    func recordMessage(_ request: MessageRequest) async throws(CallEnded) -> RecordedMessage?

    /// An HTTP request; never throws (a failure is a result), never outlives `request.timeout`.
    func webhook(_ request: WebhookRequest) async -> WebhookResult

    /// Appends one of the call's events (`hotline.ivr.node`, `hotline.ivr.input`...).
    func emit(_ type: String, _ data: [String: JSONValue])

    /// Ends the call from our side: BYE after the answer, a final error response before it.
    func hangup() async
}

public struct QueueRequest: Sendable, Equatable {
    public var queue: String
    public var priority: Int
    public var skills: [String]
    public var timeout: Duration?
    /// The IVR path so far and the variables, for the agent's screen.
    public var context: [String: String]
    public init(queue: String, priority: Int, skills: [String], timeout: Duration?, context: [String: String]) {
        self.queue = queue
        self.priority = priority
        self.skills = skills
        self.timeout = timeout
        self.context = context
    }
}

public enum QueueOutcome: Sendable, Equatable {
    case connected
    /// `QUEUESTATUS`-style reason: TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY...
    case left(reason: String)
    /// The queue's overflow rule sends the caller to this node (the voice robot, voicemail...).
    case overflow(node: String)
    /// The caller chose to be called back and was told so: the call ends, the place is kept.
    case callback
}

public struct DialRequest: Sendable, Equatable {
    public var target: String
    public var trunk: String?
    public var mode: Dial.Mode
    public var timeout: Duration
    public init(target: String, trunk: String?, mode: Dial.Mode, timeout: Duration) {
        self.target = target
        self.trunk = trunk
        self.mode = mode
        self.timeout = timeout
    }
}

public enum DialOutcome: Sendable, Equatable {
    case connected
    /// `busy`, `no-answer` or `failed`.
    case failed(status: String)
}

public struct MessageRequest: Sendable, Equatable {
    public var maxLength: Duration
    public var silence: Duration
    public var terminator: Character?
    public var beep: Bool
    public init(maxLength: Duration, silence: Duration, terminator: Character?, beep: Bool) {
        self.maxLength = maxLength
        self.silence = silence
        self.terminator = terminator
        self.beep = beep
    }
}

public struct RecordedMessage: Sendable, Equatable {
    public var path: String
    public var duration: Duration
    public init(path: String, duration: Duration) {
        self.path = path
        self.duration = duration
    }
}

public struct WebhookRequest: Sendable, Equatable {
    public var url: String
    public var method: Webhook.Method
    public var parameters: [String: String]
    public var timeout: Duration
    public init(url: String, method: Webhook.Method, parameters: [String: String], timeout: Duration) {
        self.url = url
        self.method = method
        self.parameters = parameters
        self.timeout = timeout
    }
}

public enum WebhookResult: Sendable, Equatable {
    /// The answer's JSON object.
    case answered([String: JSONValue])
    /// Why not: `timeout`, `connection`, `status 500`, `not a JSON object`...
    case failed(reason: String)
}

extension CallEventType {
    /// The call entered a dialplan node.
    public static let ivrNode = "hotline.ivr.node"
    /// The caller left a message (`record`).
    public static let messageRecorded = "hotline.message.recorded"
}
