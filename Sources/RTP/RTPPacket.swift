// RTP fixed header (RFC 3550 §5.1) parsing and writing, without copying.

/// The fixed RTP header.
public struct RTPHeader: Sendable, Equatable {
    /// Size of the fixed header in bytes (without CSRCs and extension).
    public static let size = 12

    /// Always 2 for packets produced by `RTPPacketView.parse`.
    public var version: UInt8
    public var padding: Bool
    public var hasExtension: Bool
    public var csrcCount: UInt8
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32

    public init(version: UInt8 = 2, padding: Bool = false, hasExtension: Bool = false, csrcCount: UInt8 = 0,
                marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32) {
        self.version = version
        self.padding = padding
        self.hasExtension = hasExtension
        self.csrcCount = csrcCount
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
    }

    /// Writes the 12-byte fixed header at the start of `buffer` and returns 12.
    ///
    /// Only the fixed header is written: when `csrcCount`, `hasExtension` or `padding`
    /// are set, the caller writes the CSRC list, extension and padding itself.
    /// `buffer` must hold at least 12 bytes.
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= Self.size, "RTP header needs \(Self.size) bytes")
        buffer[0] = (version & 0x03) << 6 | (padding ? 0x20 : 0) | (hasExtension ? 0x10 : 0) | (csrcCount & 0x0F)
        buffer[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        buffer[2] = UInt8(truncatingIfNeeded: sequenceNumber >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: sequenceNumber)
        buffer[4] = UInt8(truncatingIfNeeded: timestamp >> 24)
        buffer[5] = UInt8(truncatingIfNeeded: timestamp >> 16)
        buffer[6] = UInt8(truncatingIfNeeded: timestamp >> 8)
        buffer[7] = UInt8(truncatingIfNeeded: timestamp)
        buffer[8] = UInt8(truncatingIfNeeded: ssrc >> 24)
        buffer[9] = UInt8(truncatingIfNeeded: ssrc >> 16)
        buffer[10] = UInt8(truncatingIfNeeded: ssrc >> 8)
        buffer[11] = UInt8(truncatingIfNeeded: ssrc)
        return Self.size
    }

    /// The 12-byte fixed header as an array (convenience for tests and non-hot paths).
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        out.withUnsafeMutableBytes { _ = write(into: $0) }
        return out
    }
}

/// Why a datagram is not a valid RTP packet.
public enum RTPPacketError: Error, Sendable, Equatable {
    /// Fewer than 12 bytes.
    case tooShort
    /// Version field is not 2.
    case badVersion
    /// The CSRC list extends past the end of the packet.
    case badCSRCCount
    /// The header extension (or its 4-byte header) extends past the end of the packet.
    case badExtensionLength
    /// Padding bit set with a padding count of 0 or larger than the space after the headers.
    case badPadding
}

/// Zero-copy RTP packet parsing: validates the headers and tells where the payload is.
public enum RTPPacketView {
    /// Parses the packet in `bytes`.
    ///
    /// Validates version 2, the CSRC count against the length, the extension length and
    /// the padding count. `payloadRange` is relative to `bytes` (index 0 = first byte)
    /// and excludes CSRCs, the header extension and padding; it may be empty.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTPPacketError) -> (header: RTPHeader, payloadRange: Range<Int>) {
        let count = bytes.count
        guard count >= RTPHeader.size else { throw .tooShort }
        let b0 = bytes[0]
        guard b0 >> 6 == 2 else { throw .badVersion }
        let padding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let csrcCount = b0 & 0x0F
        let b1 = bytes[1]

        var offset = RTPHeader.size + 4 * Int(csrcCount)
        guard offset <= count else { throw .badCSRCCount }
        if hasExtension {
            guard offset + 4 <= count else { throw .badExtensionLength }
            let words = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            offset += 4 + 4 * words
            guard offset <= count else { throw .badExtensionLength }
        }
        var end = count
        if padding {
            // The last octet counts the padding octets, itself included (RFC 3550 §5.1).
            let padCount = Int(bytes[count - 1])
            guard padCount >= 1, padCount <= count - offset else { throw .badPadding }
            end -= padCount
        }

        let header = RTPHeader(
            version: 2, padding: padding, hasExtension: hasExtension, csrcCount: csrcCount,
            marker: b1 & 0x80 != 0, payloadType: b1 & 0x7F,
            sequenceNumber: UInt16(bytes[2]) << 8 | UInt16(bytes[3]),
            timestamp: UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7]),
            ssrc: UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11]))
        return (header, offset..<end)
    }

    /// Parses the packet in `bytes` (see `parse(_: UnsafeRawBufferPointer)`).
    public static func parse(_ bytes: [UInt8]) throws(RTPPacketError) -> (header: RTPHeader, payloadRange: Range<Int>) {
        let result = bytes.withUnsafeBytes { raw -> Result<(header: RTPHeader, payloadRange: Range<Int>), RTPPacketError> in
            do throws(RTPPacketError) {
                return .success(try parse(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The contributing sources listed in the packet (call only after a successful `parse`).
    public static func csrcs(_ bytes: UnsafeRawBufferPointer, header: RTPHeader) -> [UInt32] {
        (0..<Int(header.csrcCount)).map { i in
            let o = RTPHeader.size + 4 * i
            return UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
        }
    }
}
