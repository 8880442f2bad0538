/// What a receiver knows about one incoming RTP stream (RFC 3550 §6.4.1, appendix A.1, A.3,
/// A.8): the extended highest sequence number, packets expected and lost, and the
/// interarrival jitter. Pure: the caller passes each packet's arrival time in the stream's
/// timestamp units (8,000 per second for G.711).
public struct ReceptionStatistics: Sendable, Equatable {
    /// A jump this large in sequence numbers restarts the count (a new source, §A.1).
    static let maxDropout: UInt16 = 3000
    static let maxMisorder: UInt16 = 100

    public private(set) var ssrc: UInt32?
    private var baseSequence: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var badSequence: UInt32 = UInt32.max
    public private(set) var received: UInt64 = 0
    /// Interarrival jitter in timestamp units, scaled by 16 as in A.8 (kept as an integer).
    private var jitterScaled: UInt32 = 0
    /// Arrival minus RTP timestamp of the previous packet, modulo 2^32 (both clocks wrap).
    private var lastTransit: UInt32?

    public init() {}

    /// The extended highest sequence number received (cycles × 65,536 + highest).
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    /// Packets the sequence numbers say were sent since the first one received.
    public var expected: UInt64 {
        guard ssrc != nil else { return 0 }
        return UInt64(extendedHighestSequence &- baseSequence) + 1
    }

    /// Cumulative packets lost (§6.4.1): expected minus received, never negative (duplicates).
    public var lost: UInt64 { expected > received ? expected - received : 0 }

    /// Interarrival jitter in timestamp units (§6.4.1, A.8).
    public var jitter: UInt32 { jitterScaled >> 4 }

    /// Records one packet. `arrival` is the local clock in the stream's timestamp units.
    public mutating func record(ssrc packetSSRC: UInt32, sequence: UInt16, timestamp: UInt32, arrival: UInt32) {
        if ssrc != packetSSRC {
            // A new source (first packet, or the peer restarted its stream): start over.
            self = ReceptionStatistics()
            ssrc = packetSSRC
            baseSequence = UInt32(sequence)
            maxSequence = sequence
            received = 1
            lastTransit = arrival &- timestamp
            return
        }
        let delta = sequence &- maxSequence
        if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= 65_536 }   // wrapped
            maxSequence = sequence
        } else if delta <= UInt16.max - Self.maxMisorder {
            // A very large jump: restart if the next packet confirms it (A.1).
            if UInt32(sequence) == badSequence {
                let keep = ssrc
                self = ReceptionStatistics()
                ssrc = keep
                baseSequence = UInt32(sequence)
                maxSequence = sequence
                received = 1
                lastTransit = arrival &- timestamp
                return
            }
            badSequence = UInt32(sequence &+ 1)
            return
        }
        // else: a duplicate or reordered packet, counted below.
        received += 1
        // A.8: D = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
        let transit = arrival &- timestamp
        if let last = lastTransit {
            let d = UInt32(min(Int64(UInt32.max >> 4), abs(Int64(Int32(bitPattern: transit &- last)))))
            let j = Int64(jitterScaled) + Int64(d) - Int64((jitterScaled + 8) >> 4)
            jitterScaled = UInt32(max(0, min(Int64(UInt32.max), j)))
        }
        lastTransit = transit
    }
}
