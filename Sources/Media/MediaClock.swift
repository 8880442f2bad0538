import NIOCore

/// One 20 ms clock per event loop. Every media session on the loop sends its frame from the
/// same tick, so packets leave at an exact pace without one timer per call, and the writes of
/// a tick are flushed together.
///
/// The next deadline is computed from the previous deadline, not from "now", so the pace does
/// not drift by the time a tick takes; if the loop falls far behind, the clock resynchronises
/// instead of bursting.
///
/// Sessions are served in a stable order (the order they started), so each stream leaves at
/// the same offset within every tick: a hash table's order would change as calls come and go
/// and move a stream's packets by up to a whole tick's work.
final class MediaClock: @unchecked Sendable {   // confined to `eventLoop`
    let eventLoop: EventLoop
    private var order: [RTPSession?] = []
    private var position: [ObjectIdentifier: Int] = [:]
    private var holes = 0
    private var next: NIODeadline = .now()
    private var scheduled: Scheduled<Void>?
    private(set) var tickCount: UInt64 = 0
    static let interval = TimeAmount.milliseconds(20)

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func add(_ session: RTPSession) {
        eventLoop.assertInEventLoop()
        guard position[ObjectIdentifier(session)] == nil else { return }
        position[ObjectIdentifier(session)] = order.count
        order.append(session)
        if scheduled == nil {
            next = .now() + Self.interval
            schedule()
        }
    }

    func remove(_ session: RTPSession) {
        eventLoop.assertInEventLoop()
        guard let index = position.removeValue(forKey: ObjectIdentifier(session)) else { return }
        order[index] = nil
        holes += 1
        if position.isEmpty {
            order = []
            holes = 0
            scheduled?.cancel()
            scheduled = nil
        } else if holes > 64 && holes * 2 > order.count {
            compact()
        }
    }

    /// Drops the holes left by ended sessions, keeping the others' relative order.
    private func compact() {
        order = order.filter { $0 != nil }
        holes = 0
        for (i, s) in order.enumerated() {
            if let s { position[ObjectIdentifier(s)] = i }
        }
    }

    private func schedule() {
        scheduled = eventLoop.scheduleTask(deadline: next) { [self] in tick() }
    }

    private func tick() {
        let now = NIODeadline.now()
        tickCount &+= 1
        for case let session? in order { session.tick(now: now, tick: tickCount) }
        next = next + Self.interval
        if next < now - .milliseconds(200) { next = now + Self.interval }  // far behind: resync
        if position.isEmpty { scheduled = nil } else { schedule() }
    }
}
