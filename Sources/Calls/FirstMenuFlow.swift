import HotlineCore

/// The first call flow of the 12345 line, until the dialplan engine replaces it:
/// welcome → main menu; keys 1–4 play their service prompt, 0 the "transferring" prompt,
/// `#` repeats the menu, anything else is invalid; three menus without a key → goodbye and BYE.
/// Keys pressed during a prompt interrupt it and count as the menu choice (type-ahead).
public struct FirstMenuFlow: Sendable {
    public var menuTimeout: Duration
    public var maxTimeouts: Int

    public init(menuTimeout: Duration = .seconds(5), maxTimeouts: Int = 3) {
        self.menuTimeout = menuTimeout
        self.maxTimeouts = maxTimeouts
    }

    /// Every prompt this flow may play; checked at start-up for every language.
    public static let prompts = [
        "welcome", "main-menu", "option-1", "option-2", "option-3", "option-4",
        "transferring", "invalid", "no-input", "goodbye",
    ]

    public func run(_ call: some CallControl) async throws(CallEnded) {
        _ = try await call.play(["welcome"], interruptible: true)
        var timeouts = 0
        while true {
            _ = try await call.play(["main-menu"], interruptible: true)
            let key = try await call.collectDigit(timeout: menuTimeout)
            switch key {
            case nil:
                timeouts += 1
                if timeouts >= maxTimeouts {
                    _ = try await call.play(["goodbye"], interruptible: false)
                    await call.hangup(cause: .normalClearing)
                    return
                }
                _ = try await call.play(["no-input"], interruptible: true)
            case "1", "2", "3", "4":
                timeouts = 0
                _ = try await call.play(["option-\(key!)"], interruptible: true)
            case "0":
                // The ACD arrives with the queues issue; until then the caller hears the
                // transfer announcement and returns to the menu.
                timeouts = 0
                _ = try await call.play(["transferring"], interruptible: false)
            case "#":
                timeouts = 0
            default:
                timeouts = 0
                _ = try await call.play(["invalid"], interruptible: true)
            }
        }
    }
}
