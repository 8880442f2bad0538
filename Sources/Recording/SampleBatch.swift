// Fixed-capacity buffers of interleaved stereo samples passed from the call path to the writer.

/// A fixed-capacity buffer of interleaved stereo samples (left, right, left, right, ...).
///
/// Ownership moves, it is never shared: the recorder fills a batch under its lock, hands it
/// to the writer's queue, and the writer gives it back to the pool when written. That hand-off
/// is why the class may be `@unchecked Sendable`.
final class SampleBatch: @unchecked Sendable {
    static let channels = 2

    /// Capacity in frames (one left and one right sample each).
    let capacityFrames: Int
    private(set) var frameCount = 0
    private let storage: UnsafeMutablePointer<Int16>

    init(capacityFrames: Int) {
        precondition(capacityFrames > 0, "a sample batch needs room for at least one frame")
        self.capacityFrames = capacityFrames
        storage = .allocate(capacity: capacityFrames * Self.channels)
    }

    deinit {
        storage.deallocate()
    }

    var isEmpty: Bool { frameCount == 0 }
    var isFull: Bool { frameCount == capacityFrames }
    var remainingFrames: Int { capacityFrames - frameCount }

    /// The interleaved samples written so far.
    var samples: UnsafeBufferPointer<Int16> {
        UnsafeBufferPointer(start: storage, count: frameCount * Self.channels)
    }

    /// Interleaves `count` frames starting at frame `start` of the two channels. A channel
    /// shorter than `start + count` contributes silence for the missing samples.
    /// `count` must not exceed `remainingFrames`.
    func appendInterleaved(
        left: UnsafeBufferPointer<Int16>, right: UnsafeBufferPointer<Int16>, start: Int, count: Int
    ) {
        precondition(count <= remainingFrames, "sample batch overflow")
        var out = storage + frameCount * Self.channels
        for index in start..<(start + count) {
            out[0] = index < left.count ? left[index] : 0
            out[1] = index < right.count ? right[index] : 0
            out += Self.channels
        }
        frameCount += count
    }

    /// Appends `count` frames of silence on both channels.
    func appendSilence(count: Int) {
        precondition(count <= remainingFrames, "sample batch overflow")
        (storage + frameCount * Self.channels).initialize(repeating: 0, count: count * Self.channels)
        frameCount += count
    }

    /// Empties the batch for reuse.
    func reset() {
        frameCount = 0
    }
}
