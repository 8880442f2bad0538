/// Errors raised when creating or configuring a codec.
///
/// Only creation and configuration throw. The per-frame paths never throw:
/// decoders report a corrupt payload by appending nothing, encoders by
/// returning 0.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The codec cannot run at this PCM sample rate.
    case unsupportedSampleRate(Int)
    /// A configuration value is outside its valid range.
    case invalidParameter(name: String, value: Int, valid: ClosedRange<Int>)
    /// libopus returned an error code (`OPUS_*`, negative).
    case opus(operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .unsupportedSampleRate(let rate):
            return "unsupported sample rate \(rate) Hz"
        case .invalidParameter(let name, let value, let valid):
            return "invalid \(name) \(value) (valid: \(valid.lowerBound)...\(valid.upperBound))"
        case .opus(let operation, let code, let message):
            return "\(operation) failed: \(message) (\(code))"
        }
    }
}
