// RFC 4733 §2.3 telephone-event payload.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     event     |E|R| volume    |          duration             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// One telephone-event (RFC 4733) payload block.
public struct TelephoneEvent: Sendable, Equatable {
    /// Payload size in bytes.
    public static let size = 4

    /// Event code (RFC 4733 §3.2: 0-9, 10 = *, 11 = #, 12-15 = A-D, 16 = flash).
    public var event: UInt8
    /// E bit: this packet ends the event.
    public var end: Bool
    /// Power level in -dBm0, 0...63.
    public var volume: UInt8
    /// Duration so far, in RTP timestamp units.
    public var duration: UInt16

    public init(event: UInt8, end: Bool = false, volume: UInt8 = 10, duration: UInt16 = 0) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    /// Parses the first event block of a telephone-event payload; nil if shorter than 4 bytes.
    /// The reserved bit is ignored, as RFC 4733 requires of receivers.
    public static func parse(_ payload: UnsafeRawBufferPointer) -> TelephoneEvent? {
        guard payload.count >= size else { return nil }
        return TelephoneEvent(event: payload[0], end: payload[1] & 0x80 != 0, volume: payload[1] & 0x3F,
                              duration: UInt16(payload[2]) << 8 | UInt16(payload[3]))
    }

    /// Parses the first event block of `payload`; nil if shorter than 4 bytes.
    public static func parse(_ payload: [UInt8]) -> TelephoneEvent? {
        payload.withUnsafeBytes { parse($0) }
    }

    /// Writes the 4-byte payload at the start of `buffer` (which must hold 4 bytes) and returns 4.
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= Self.size, "telephone-event payload needs \(Self.size) bytes")
        buffer[0] = event
        buffer[1] = (end ? 0x80 : 0) | (volume & 0x3F)
        buffer[2] = UInt8(truncatingIfNeeded: duration >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: duration)
        return Self.size
    }

    /// The 4-byte payload as an array.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        out.withUnsafeMutableBytes { _ = write(into: $0) }
        return out
    }

    /// The DTMF key for events 0-15 ("0"-"9", "*", "#", "A"-"D"); nil for other events.
    public var digit: Character? {
        Self.digit(forEvent: event)
    }

    /// The DTMF key for an event code, or nil if it is not a DTMF key.
    public static func digit(forEvent event: UInt8) -> Character? {
        switch event {
        case 0...9: return Character(Unicode.Scalar(UInt8(ascii: "0") + event))
        case 10: return "*"
        case 11: return "#"
        case 12...15: return Character(Unicode.Scalar(UInt8(ascii: "A") + event - 12))
        default: return nil
        }
    }

    /// The event code for a DTMF key (inverse of `digit`; accepts lowercase a-d).
    public static func event(forDigit digit: Character) -> UInt8? {
        guard let a = digit.asciiValue else { return nil }
        switch a {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return a - UInt8(ascii: "0")
        case UInt8(ascii: "*"): return 10
        case UInt8(ascii: "#"): return 11
        case UInt8(ascii: "A")...UInt8(ascii: "D"): return a - UInt8(ascii: "A") + 12
        case UInt8(ascii: "a")...UInt8(ascii: "d"): return a - UInt8(ascii: "a") + 12
        default: return nil
        }
    }
}
