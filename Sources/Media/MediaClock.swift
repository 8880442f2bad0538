import NIOCore

/// One 20 ms clock per event loop. Every media session on the loop sends its frame from the
/// same tick, so packets leave at an exact pace without one timer per call, and the writes of
/// a tick are flushed together.
///
/// The next deadline is computed from the previous deadline, not from "now", so the pace does
/// not drift by the time a tick takes; if the loop falls far behind, the clock resynchronises
/// instead of bursting.
final class MediaClock: @unchecked Sendable {   // confined to `eventLoop`
    let eventLoop: EventLoop
    private var sessions: [ObjectIdentifier: RTPSession] = [:]
    private var next: NIODeadline = .now()
    private var scheduled: Scheduled<Void>?
    private(set) var tickCount: UInt64 = 0
    static let interval = TimeAmount.milliseconds(20)

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func add(_ session: RTPSession) {
        eventLoop.assertInEventLoop()
        sessions[ObjectIdentifier(session)] = session
        if scheduled == nil {
            next = .now() + Self.interval
            schedule()
        }
    }

    func remove(_ session: RTPSession) {
        eventLoop.assertInEventLoop()
        sessions.removeValue(forKey: ObjectIdentifier(session))
        if sessions.isEmpty {
            scheduled?.cancel()
            scheduled = nil
        }
    }

    private func schedule() {
        scheduled = eventLoop.scheduleTask(deadline: next) { [self] in tick() }
    }

    private func tick() {
        let now = NIODeadline.now()
        tickCount &+= 1
        for session in sessions.values { session.tick(now: now, tick: tickCount) }
        next = next + Self.interval
        if next < now - .milliseconds(200) { next = now + Self.interval }  // far behind: resync
        if sessions.isEmpty { scheduled = nil } else { schedule() }
    }
}
