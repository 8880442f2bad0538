/// Turns a stream of RFC 4733 telephone-event packets into DTMF keys, once per key press.
///
/// RFC 4733 §2.5.1: all packets of one event carry the same RTP timestamp (the event's
/// start); the sender repeats the packet with growing duration and sends the final
/// (E bit) packet three times. A key press is therefore identified by its timestamp.
///
/// Policy: the key is reported at the FIRST packet seen of a new event (lowest latency,
/// and robust to lost end packets), not at its end. Consequences:
/// - repeated and redundant end packets of the same timestamp report nothing;
/// - a packet with a new timestamp is a new key even if the previous event's end
///   packets were all lost, and even if it carries the same digit;
/// - a stream whose first packets were lost still reports its key on the first packet
///   that arrives (possibly an end packet);
/// - packets older than the current event (reordered late packets of a previous event)
///   are ignored. "Older" uses RFC 1982 serial arithmetic, so timestamp wrap-around
///   is handled; a jump backwards of more than `staleWindow` ticks is treated as a
///   timestamp discontinuity and starts a new event;
/// - a long event split into segments (RFC 4733 §2.5.1.3: previous segment not ended,
///   same event code, new timestamp = previous + 0xFFFF) continues the same key.
///
/// Events without a DTMF key (e.g. 16, flash) are tracked but report nil.
/// Call `reset()` when the sender's SSRC changes.
public struct TelephoneEventReceiver: Sendable {
    /// How far back (in RTP timestamp units) a timestamp may be and still be considered a
    /// late packet of an earlier event: 10 s at 8000 Hz.
    public static let staleWindow: UInt32 = 80_000

    private var current: (timestamp: UInt32, event: UInt8, ended: Bool)?

    public init() {}

    /// Forgets the current event (e.g. on an SSRC change).
    public mutating func reset() {
        current = nil
    }

    /// Feeds one received telephone-event packet; returns the key if it starts a new key press.
    public mutating func receive(_ event: TelephoneEvent, timestamp: UInt32) -> Character? {
        guard let last = current else {
            current = (timestamp, event.event, event.end)
            return event.digit
        }
        if timestamp == last.timestamp {
            // Same event: a repeat, an update with longer duration, or a (redundant) end packet.
            if event.end { current?.ended = true }
            return nil
        }
        let delta = timestamp &- last.timestamp
        if Int32(bitPattern: delta) < 0, 0 &- delta <= Self.staleWindow {
            return nil  // a late packet of an earlier event
        }
        let continuesSegment = !last.ended && event.event == last.event && delta == 0xFFFF
        current = (timestamp, event.event, event.end)
        return continuesSegment ? nil : event.digit
    }
}
