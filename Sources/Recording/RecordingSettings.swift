// How and where call recordings are written.

import Foundation

/// How and where a call is recorded.
public struct RecordingSettings: Sendable {
    /// The sample rates a recording may use. 8000 and 16000 Hz are what the media engine
    /// produces (narrowband and wideband calls); the others are the remaining rates Opus
    /// encodes natively, accepted so that both formats share one list.
    public static let supportedSampleRates: [Int] = [8000, 12000, 16000, 24000, 48000]

    /// Root folder of the recordings; each recording goes into `yyyy/MM/dd` below it.
    public var directory: String
    public var format: RecordingFormat
    /// Samples per second per channel; one of `supportedSampleRates`.
    public var sampleRate: Int
    /// Longest time audio waits in memory before it is written to the file. After the process
    /// is killed the recording plays up to about this long before the kill (plus, for
    /// Ogg/Opus, up to a quarter of it in the encoder's open page).
    public var flushInterval: Duration
    /// Minimum time between two `fsync` calls: what a power cut (rather than a killed
    /// process, whose writes the kernel keeps) may lose. An fsync per recording per second
    /// costs hundreds of disk flushes a second on a busy node.
    public var syncInterval: Duration
    /// How much audio may wait for the writer. When a slow disk lets more pile up, the
    /// recorder stops recording and marks the recording incomplete instead of growing memory.
    public var maxBacklog: Duration
    /// Time zone of the day folders and of the time stamp in file names.
    public var timeZone: TimeZone

    public init(
        directory: String,
        format: RecordingFormat,
        sampleRate: Int,
        flushInterval: Duration = .seconds(1),
        syncInterval: Duration = .seconds(10),
        maxBacklog: Duration = .seconds(10),
        timeZone: TimeZone = .gmt
    ) {
        self.directory = directory
        self.format = format
        self.sampleRate = sampleRate
        self.flushInterval = flushInterval
        self.syncInterval = syncInterval
        self.maxBacklog = maxBacklog
        self.timeZone = timeZone
    }

    /// Checks the values a recorder cannot work with.
    func validate() throws(RecordingError) {
        guard !directory.isEmpty else {
            throw .invalidSettings("the recording directory is empty")
        }
        guard Self.supportedSampleRates.contains(sampleRate) else {
            throw .invalidSettings(
                "sample rate \(sampleRate) Hz is not supported (use one of \(Self.supportedSampleRates.map(String.init).joined(separator: ", ")))")
        }
        guard flushInterval >= .milliseconds(20), flushInterval <= .seconds(60) else {
            throw .invalidSettings("flush interval \(flushInterval) is outside 20 ms ... 60 s")
        }
        guard syncInterval >= flushInterval else {
            throw .invalidSettings("sync interval \(syncInterval) is shorter than the flush interval \(flushInterval)")
        }
        guard maxBacklog >= flushInterval else {
            throw .invalidSettings("max backlog \(maxBacklog) is shorter than the flush interval \(flushInterval)")
        }
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// The duration in nanoseconds, saturating at `UInt64.max`; negative durations give 0.
    var nanoseconds: UInt64 {
        let value = seconds * 1e9
        guard value > 0 else { return 0 }
        return value >= Double(UInt64.max) ? .max : UInt64(value)
    }
}
