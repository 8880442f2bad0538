// Adaptive jitter buffer for decoded media paths (recording, mixing).
//
// Playout is driven by the RTP timestamp (RFC 3550 §5.1): a cursor holds the
// media time of the next 20 ms slot and `pop` is called once per slot by the
// owner's clock. Sequence numbers (with wrap-around, RFC 3550 Appendix A.1)
// order packets and detect duplicates, late packets and stream restarts.
//
// Delay model: transit = arrival − timestamp (ms) for every packet. The
// fastest recent transit is the reference ("base"); a packet is in time if
// its transit exceeds the base by no more than the playout delay
//     delay = now − (cursor timestamp in ms) − base.
// The target delay is the chosen percentile of transit − base over the last
// `historySize` packets, clamped to [minDelayMs, maxDelayMs]. When the slot's
// packet is absent and the delay is below target, the cursor holds still (the
// caller conceals and the delay grows by a frame); when the delay exceeds
// target by a frame, one frame is skipped, at most once per
// `shrinkIntervalFrames`.
//
// Assumes one frame per packet of `frameMs`, the usual case for ptime 20.

/// What to play for one frame slot.
public enum JitterBufferOutput<Payload> {
    /// The frame for this slot.
    case frame(Payload)
    /// The frame is lost or late: conceal it (PLC).
    case missing
    /// Nothing to play: not started, still pre-buffering, or the stream is idle.
    case empty
}

extension JitterBufferOutput: Sendable where Payload: Sendable {}
extension JitterBufferOutput: Equatable where Payload: Equatable {}

/// Counters and delays of a jitter buffer. Counters are cumulative across resets.
public struct JitterBufferStatistics: Sendable, Equatable {
    /// Frames returned by `pop`.
    public var played = 0
    /// `.missing` results (lost or late packets, delay growth).
    public var concealed = 0
    /// Packets that arrived after their slot had been played or concealed.
    public var late = 0
    /// Packets received twice.
    public var duplicates = 0
    /// Packets dropped because the buffer was full.
    public var overflowDropped = 0
    /// Frames skipped to reduce the delay.
    public var discarded = 0
    /// Stray packets far outside the current sequence or timing, never confirmed.
    public var outOfRange = 0
    /// Stream restarts: explicit `reset()`, SSRC change, confirmed sequence or timestamp jump.
    public var resets = 0
    /// Playout delay measured at the last `pop`, in ms.
    public var currentDelayMs = 0
    /// Delay the buffer currently aims for, in ms.
    public var targetDelayMs = 0
    /// Packets held now.
    public var bufferedPackets = 0

    public init() {}
}

/// Reorders RTP packets and releases one frame per 20 ms tick after an
/// adaptive delay. Not thread-safe; owned by one event loop.
public struct JitterBuffer<Payload> {
    /// Tuning. The defaults suit 20 ms voice packets.
    public struct Configuration: Sendable, Equatable {
        /// RTP clock rate in Hz (8000 for PCMU/PCMA and G.722, 48000 for Opus).
        public var clockRate: Int
        /// Duration of one packet, in ms.
        public var frameMs: Int
        /// Lower bound of the target delay, in ms.
        public var minDelayMs: Int
        /// Upper bound of the target delay, in ms.
        public var maxDelayMs: Int
        /// Target delay until enough packets have been seen to measure jitter.
        public var initialDelayMs: Int
        /// Most packets held; beyond it the oldest is dropped.
        public var capacity: Int
        /// With nothing buffered and no arrival for this long, `pop` returns
        /// `.empty` and the next packet pre-buffers again.
        public var idleTimeoutMs: Int
        /// A sequence jump larger than this (either way) restarts the stream
        /// once a second packet confirms it (RFC 3550 A.1 probation).
        public var maxSequenceJump: Int
        /// A transit change larger than this (a timestamp jump) restarts the
        /// stream the same way, in ms.
        public var maxTransitJumpMs: Int
        /// Packets over which jitter is measured.
        public var historySize: Int
        /// Share of packets (0.5...1) the target delay should cover.
        public var percentile: Double
        /// Least number of frame slots between two skipped frames.
        public var shrinkIntervalFrames: Int

        public init(
            clockRate: Int,
            frameMs: Int = 20,
            minDelayMs: Int = 20,
            maxDelayMs: Int = 200,
            initialDelayMs: Int = 60,
            capacity: Int = 32,
            idleTimeoutMs: Int = 300,
            maxSequenceJump: Int = 100,
            maxTransitJumpMs: Int = 1_000,
            historySize: Int = 128,
            percentile: Double = 0.95,
            shrinkIntervalFrames: Int = 25
        ) {
            self.clockRate = clockRate
            self.frameMs = frameMs
            self.minDelayMs = minDelayMs
            self.maxDelayMs = maxDelayMs
            self.initialDelayMs = initialDelayMs
            self.capacity = capacity
            self.idleTimeoutMs = idleTimeoutMs
            self.maxSequenceJump = maxSequenceJump
            self.maxTransitJumpMs = maxTransitJumpMs
            self.historySize = historySize
            self.percentile = percentile
            self.shrinkIntervalFrames = shrinkIntervalFrames
        }
    }

    fileprivate struct Entry {
        var sequence: Int64
        var timestamp: Int64
        var payload: Payload
    }

    fileprivate struct Probation {
        var sequence: UInt16
        var timestamp: UInt32
        var payload: Payload
        var arrival: UInt64
    }

    /// Packets seen before the measured jitter replaces `initialDelayMs`.
    private static var minimumHistory: Int { 8 }

    public let configuration: Configuration

    private let frameTicks: Int64
    /// Held packets, ascending sequence number.
    private var entries: [Entry] = []
    private var highestSequence: Int64?
    private var highestTimestamp: Int64?
    private var ssrc: UInt32?
    private var probation: Probation?
    private var started = false
    /// Timestamp of the next slot to play.
    private var cursor: Int64?
    private var lastPlayedSequence: Int64?
    /// Bit i set: sequence `lastPlayedSequence − i` was played (duplicate detection).
    private var playedMask: UInt64 = 0
    private var lastArrival: UInt64?
    private var transits: TransitWindow
    private var target: Double
    private var current: Double = 0
    private var slotsSinceShrink = 0
    private var counters = JitterBufferStatistics()

    public init(configuration: Configuration) {
        precondition(configuration.clockRate >= 1_000, "clockRate must be at least 1000 Hz")
        precondition(configuration.frameMs > 0 && configuration.clockRate * configuration.frameMs % 1_000 == 0,
                     "frameMs must be a whole number of RTP ticks")
        precondition(configuration.minDelayMs >= 0 && configuration.minDelayMs <= configuration.maxDelayMs,
                     "need 0 <= minDelayMs <= maxDelayMs")
        precondition(configuration.capacity >= 2 && configuration.historySize >= 1, "capacity and history too small")
        precondition((0.5...1).contains(configuration.percentile), "percentile must be within 0.5...1")
        precondition(configuration.idleTimeoutMs >= 0 && configuration.maxTransitJumpMs > 0
                     && configuration.maxSequenceJump > 0 && configuration.shrinkIntervalFrames > 0,
                     "timeouts, jumps and intervals must be positive")
        self.configuration = configuration
        frameTicks = Int64(configuration.clockRate * configuration.frameMs / 1_000)
        transits = TransitWindow(capacity: configuration.historySize)
        target = Double(Self.clamp(configuration.initialDelayMs, configuration))
        entries.reserveCapacity(configuration.capacity + 1)
    }

    /// A buffer with default tuning for the given RTP clock rate.
    public init(clockRate: Int) {
        self.init(configuration: Configuration(clockRate: clockRate))
    }

    // MARK: - State

    /// Counters and delays.
    public var statistics: JitterBufferStatistics {
        var snapshot = counters
        snapshot.currentDelayMs = currentDelayMs
        snapshot.targetDelayMs = targetDelayMs
        snapshot.bufferedPackets = entries.count
        return snapshot
    }

    /// Playout delay measured at the last `pop`, in ms (0 before playout starts).
    public var currentDelayMs: Int { Int(current.rounded()) }

    /// Delay the buffer currently aims for, in ms.
    public var targetDelayMs: Int { Int(target.rounded()) }

    /// Packets held.
    public var count: Int { entries.count }

    /// Forgets the stream (e.g. on an SSRC change or re-INVITE): buffered packets
    /// are dropped and the delay starts again from `initialDelayMs`. Counters are kept.
    public mutating func reset() {
        entries.removeAll(keepingCapacity: true)
        highestSequence = nil
        highestTimestamp = nil
        ssrc = nil
        probation = nil
        started = false
        cursor = nil
        lastPlayedSequence = nil
        playedMask = 0
        lastArrival = nil
        transits.removeAll()
        target = Double(Self.clamp(configuration.initialDelayMs, configuration))
        current = 0
        slotsSinceShrink = 0
        counters.resets += 1
    }

    // MARK: - Input

    /// Adds a received packet.
    /// - Parameters:
    ///   - arrival: receive time in ms, on the same clock as `pop(now:)`.
    ///   - ssrc: the packet's SSRC; a change restarts the buffer (see `reset()`).
    ///     Pass nil if the caller handles SSRC changes itself.
    public mutating func insert(
        sequence: UInt16, timestamp: UInt32, payload: Payload, arrival: UInt64, ssrc: UInt32? = nil
    ) {
        if let ssrc {
            if let known = self.ssrc, known != ssrc { reset() }
            self.ssrc = ssrc
        }
        let extendedSequence = extend(sequence: sequence)
        let extendedTimestamp = extend(timestamp: timestamp)
        let transit = Double(arrival) - milliseconds(extendedTimestamp)

        if isDiscontinuity(sequence: extendedSequence, transit: transit) {
            if let held = probation, sequence == held.sequence &+ 1 {
                // Two consecutive packets agree: a new stream.
                probation = nil
                let keptSSRC = self.ssrc
                reset()
                self.ssrc = keptSSRC
                insert(sequence: held.sequence, timestamp: held.timestamp, payload: held.payload, arrival: held.arrival)
                insert(sequence: sequence, timestamp: timestamp, payload: payload, arrival: arrival)
            } else {
                if probation != nil { counters.outOfRange += 1 }
                probation = Probation(sequence: sequence, timestamp: timestamp, payload: payload, arrival: arrival)
            }
            return
        }
        if probation != nil {
            counters.outOfRange += 1
            probation = nil
        }

        if isDuplicate(extendedSequence) {
            counters.duplicates += 1
            return
        }
        // Late packets still measure jitter: they are what the target must cover.
        record(transit: transit)
        lastArrival = max(lastArrival ?? arrival, arrival)
        highestSequence = max(highestSequence ?? extendedSequence, extendedSequence)
        highestTimestamp = max(highestTimestamp ?? extendedTimestamp, extendedTimestamp)

        if let lastPlayedSequence, extendedSequence <= lastPlayedSequence {
            counters.late += 1
            return
        }
        if let cursor, extendedTimestamp < cursor {
            counters.late += 1
            return
        }

        let index = insertionIndex(for: extendedSequence)
        entries.insert(Entry(sequence: extendedSequence, timestamp: extendedTimestamp, payload: payload), at: index)
        if entries.count > configuration.capacity {
            entries.removeFirst()
            counters.overflowDropped += 1
            // Too far behind: play on from the oldest packet still held.
            if started, let cursor, let head = entries.first, head.timestamp > cursor {
                self.cursor = head.timestamp
            }
        }
    }

    // MARK: - Output

    /// Returns what to play for the frame slot at `now` (ms). Call once per frame.
    public mutating func pop(now: UInt64) -> JitterBufferOutput<Payload> {
        slotsSinceShrink += 1
        if !started {
            guard let head = entries.first, delay(to: head.timestamp, now: now) >= target else {
                return .empty
            }
            started = true
            cursor = head.timestamp
        }
        guard let slot = cursor else { return .empty }
        current = delay(to: slot, now: now)
        let halfFrame = frameTicks / 2

        if let head = entries.first, head.timestamp <= slot + halfFrame {
            if current >= target + Double(configuration.frameMs),
               slotsSinceShrink >= configuration.shrinkIntervalFrames,
               entries.count > 1,
               entries[1].timestamp <= head.timestamp + frameTicks + halfFrame {
                // Skip one frame to bring the delay down towards the target.
                markPlayed(entries.removeFirst().sequence)
                counters.discarded += 1
                slotsSinceShrink = 0
            }
            let entry = entries.removeFirst()
            markPlayed(entry.sequence)
            cursor = entry.timestamp + frameTicks
            counters.played += 1
            return .frame(entry.payload)
        }

        if entries.isEmpty, let lastArrival, now >= lastArrival + UInt64(configuration.idleTimeoutMs) {
            started = false
            current = 0
            return .empty
        }
        counters.concealed += 1
        if current >= target {
            cursor = slot + frameTicks  // the slot's packet is lost (or too late)
        }
        // Otherwise hold the cursor: the packet may still come, and the delay grows by a frame.
        return .missing
    }

    // MARK: - Helpers

    private static func clamp(_ value: Int, _ configuration: Configuration) -> Int {
        min(max(value, configuration.minDelayMs), configuration.maxDelayMs)
    }

    private func milliseconds(_ timestamp: Int64) -> Double {
        Double(timestamp) * 1_000 / Double(configuration.clockRate)
    }

    private func delay(to timestamp: Int64, now: UInt64) -> Double {
        Double(now) - milliseconds(timestamp) - (transits.minimum ?? 0)
    }

    /// Sequence number extended to 64 bits around the highest seen (RFC 3550 A.1).
    private func extend(sequence: UInt16) -> Int64 {
        guard let highestSequence else { return Int64(sequence) }
        let delta = Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: highestSequence))
        return highestSequence + Int64(delta)
    }

    /// Timestamp extended to 64 bits around the highest seen.
    private func extend(timestamp: UInt32) -> Int64 {
        guard let highestTimestamp else { return Int64(timestamp) }
        let delta = Int32(bitPattern: timestamp &- UInt32(truncatingIfNeeded: highestTimestamp))
        return highestTimestamp + Int64(delta)
    }

    private func isDiscontinuity(sequence: Int64, transit: Double) -> Bool {
        if let highestSequence, abs(sequence - highestSequence) > Int64(configuration.maxSequenceJump) {
            return true
        }
        if let base = transits.minimum, abs(transit - base) > Double(configuration.maxTransitJumpMs) {
            return true
        }
        return false
    }

    private func isDuplicate(_ sequence: Int64) -> Bool {
        if let lastPlayedSequence, sequence <= lastPlayedSequence {
            let age = lastPlayedSequence - sequence
            return age < 64 && playedMask & (1 << UInt64(age)) != 0
        }
        let index = insertionIndex(for: sequence)
        return index < entries.count && entries[index].sequence == sequence
    }

    /// First index whose sequence is not below `sequence` (usually the end).
    private func insertionIndex(for sequence: Int64) -> Int {
        if let last = entries.last, last.sequence < sequence { return entries.count }
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].sequence < sequence { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func markPlayed(_ sequence: Int64) {
        if let lastPlayedSequence {
            let shift = sequence - lastPlayedSequence
            playedMask = shift >= 64 ? 0 : playedMask << UInt64(shift)
        }
        playedMask |= 1
        lastPlayedSequence = sequence
    }

    private mutating func record(transit: Double) {
        transits.add(transit)
        guard transits.count >= Self.minimumHistory, let base = transits.minimum else { return }
        let spread = transits.value(atPercentile: configuration.percentile) - base
        target = min(max(spread, Double(configuration.minDelayMs)), Double(configuration.maxDelayMs))
    }
}

extension JitterBuffer: Sendable where Payload: Sendable {}
extension JitterBuffer.Entry: Sendable where Payload: Sendable {}
extension JitterBuffer.Probation: Sendable where Payload: Sendable {}

/// The last `capacity` transit times, also kept sorted for minimum and percentiles.
private struct TransitWindow {
    let capacity: Int
    private var ring: [Double] = []
    /// Oldest element of `ring` once it is full.
    private var oldest = 0
    private var sorted: [Double] = []

    init(capacity: Int) {
        self.capacity = capacity
        ring.reserveCapacity(capacity)
        sorted.reserveCapacity(capacity)
    }

    var count: Int { ring.count }
    var minimum: Double? { sorted.first }

    func value(atPercentile percentile: Double) -> Double {
        sorted[Int((Double(sorted.count - 1) * percentile).rounded())]
    }

    mutating func add(_ value: Double) {
        if ring.count < capacity {
            ring.append(value)
        } else {
            sorted.remove(at: lowerBound(ring[oldest]))
            ring[oldest] = value
            oldest = (oldest + 1) % capacity
        }
        sorted.insert(value, at: lowerBound(value))
    }

    mutating func removeAll() {
        ring.removeAll(keepingCapacity: true)
        sorted.removeAll(keepingCapacity: true)
        oldest = 0
    }

    private func lowerBound(_ value: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
