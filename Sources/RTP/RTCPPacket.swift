// RTCP packets (RFC 3550 §6.4-6.6) and compound packets (§6.1): parsing and building.
//
// Every RTCP packet starts with the same 4-byte header (§6.4.1):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |V=2|P|  count  |      PT       |             length            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// `count` is the number of report blocks (SR, RR), chunks (SDES) or sources (BYE); `length`
// is the packet's size in 32-bit words minus one, header and padding included. A datagram
// holds one or more packets back to back (a compound packet) whose lengths must add up to
// the datagram's size (appendix A.2).

/// One reception report block (RFC 3550 §6.4.1): what a receiver says about one source.
public struct RTCPReportBlock: Sendable, Equatable {
    /// Size on the wire in bytes.
    public static let size = 24
    /// The cumulative-lost field is a signed 24-bit number.
    public static let cumulativeLostRange: ClosedRange<Int32> = -0x80_0000...0x7F_FFFF

    /// The source this block is about.
    public var ssrc: UInt32
    /// Packets lost since the previous report divided by packets expected, as a fraction of
    /// 256 (fixed point, binary point at the left edge).
    public var fractionLost: UInt8
    /// Packets expected minus packets received since reception began; negative when
    /// duplicates arrived. Values outside `cumulativeLostRange` are clamped when written.
    public var cumulativeLost: Int32
    /// Sequence-number cycles × 65,536 + highest sequence number received.
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in RTP timestamp units (§6.4.1, A.8).
    public var jitter: UInt32
    /// LSR: the middle 32 bits of the NTP timestamp of the last SR received from the source
    /// (`NTPTimestamp.compact`); 0 if none yet.
    public var lastSenderReport: UInt32
    /// DLSR: the delay between receiving that SR and sending this block, in units of
    /// 1/65,536 s; 0 if no SR was received yet.
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32,
                jitter: UInt32, lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    /// The cumulative-lost value clamped to 24 bits (0x7FFFFF / -0x800000, §6.4.1).
    public static func clampedCumulativeLost(_ lost: Int64) -> Int32 {
        Int32(min(max(lost, Int64(cumulativeLostRange.lowerBound)), Int64(cumulativeLostRange.upperBound)))
    }
}

/// SR: sender report (RFC 3550 §6.4.1), packet type 200.
public struct RTCPSenderReport: Sendable, Equatable {
    public static let packetType: UInt8 = 200

    public var ssrc: UInt32
    /// Wall-clock time when the report was sent.
    public var ntpTimestamp: NTPTimestamp
    /// The same instant in the stream's RTP timestamp units (and random offset).
    public var rtpTimestamp: UInt32
    /// RTP data packets sent since the stream began (wraps).
    public var packetCount: UInt32
    /// RTP payload octets sent since the stream began, headers and padding excluded (wraps).
    public var octetCount: UInt32
    public var reportBlocks: [RTCPReportBlock]

    public init(ssrc: UInt32, ntpTimestamp: NTPTimestamp, rtpTimestamp: UInt32, packetCount: UInt32,
                octetCount: UInt32, reportBlocks: [RTCPReportBlock] = []) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reportBlocks = reportBlocks
    }
}

/// RR: receiver report (RFC 3550 §6.4.2), packet type 201.
public struct RTCPReceiverReport: Sendable, Equatable {
    public static let packetType: UInt8 = 201

    public var ssrc: UInt32
    public var reportBlocks: [RTCPReportBlock]

    public init(ssrc: UInt32, reportBlocks: [RTCPReportBlock] = []) {
        self.ssrc = ssrc
        self.reportBlocks = reportBlocks
    }
}

/// SDES: source description (RFC 3550 §6.5), packet type 202. Only CNAME is kept; other
/// items (NAME, EMAIL, TOOL, PRIV, ...) are validated and skipped.
public struct RTCPSourceDescription: Sendable, Equatable {
    public static let packetType: UInt8 = 202
    /// SDES item type of the canonical name (§6.5.1).
    public static let cnameItem: UInt8 = 1

    public struct Chunk: Sendable, Equatable {
        public var ssrc: UInt32
        /// The CNAME item, if the chunk has one (the first if several). Invalid UTF-8 is
        /// replaced by U+FFFD.
        public var cname: String?

        public init(ssrc: UInt32, cname: String?) {
            self.ssrc = ssrc
            self.cname = cname
        }
    }

    public var chunks: [Chunk]

    public init(chunks: [Chunk]) {
        self.chunks = chunks
    }
}

/// BYE: the sources are leaving (RFC 3550 §6.6), packet type 203.
public struct RTCPGoodbye: Sendable, Equatable {
    public static let packetType: UInt8 = 203

    public var ssrcs: [UInt32]
    /// Reason for leaving, if given (invalid UTF-8 is replaced by U+FFFD).
    public var reason: String?

    public init(ssrcs: [UInt32], reason: String? = nil) {
        self.ssrcs = ssrcs
        self.reason = reason
    }
}

/// Any other RTCP packet (APP, RTPFB/PSFB feedback, XR, ...): kept whole but not interpreted.
public struct RTCPOtherPacket: Sendable, Equatable {
    public var packetType: UInt8
    /// The 5-bit count/subtype field of the header.
    public var count: UInt8
    /// Everything after the 4-byte header, padding excluded.
    public var body: [UInt8]

    public init(packetType: UInt8, count: UInt8, body: [UInt8]) {
        self.packetType = packetType
        self.count = count
        self.body = body
    }
}

/// Why a datagram is not a valid (compound) RTCP packet. `offset` is where the offending
/// packet starts in the datagram.
public enum RTCPParseError: Error, Sendable, Equatable {
    /// The datagram has no bytes at all.
    case empty
    /// Fewer than 4 bytes remain for a packet header.
    case truncatedHeader(offset: Int)
    /// Version field is not 2.
    case badVersion(offset: Int)
    /// The length field runs past the end of the datagram.
    case lengthBeyondBuffer(offset: Int)
    /// Padding bit set on a packet that is not the last one, or a padding count of 0 or
    /// larger than the packet body.
    case badPadding(offset: Int)
    /// The packet is shorter than the fixed part of its type (SR sender info, RR SSRC).
    case truncatedPacket(offset: Int, packetType: UInt8)
    /// The report count says more report blocks than the length leaves room for.
    case reportCountOverflow(offset: Int)
    /// An SDES chunk or item runs past the end of the packet, or an item list is not
    /// terminated by a null octet.
    case badSourceDescription(offset: Int)
    /// The BYE source count or reason length runs past the end of the packet.
    case badGoodbye(offset: Int)
}

/// One packet of a compound RTCP packet.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sourceDescription(RTCPSourceDescription)
    case goodbye(RTCPGoodbye)
    /// A packet type this module does not interpret.
    case other(RTCPOtherPacket)

    /// The largest count a header can carry (5 bits).
    public static let maxCount = 31

    // MARK: Demultiplexing

    /// Whether a datagram on a port shared by RTP and RTCP is RTCP (RFC 5761 §4): the second
    /// byte of an RTCP packet is its packet type, 192-223 (64-95 as an RTP marker bit and
    /// payload type, which RFC 5761 forbids for RTP). The first byte must carry version 2;
    /// anything else is neither RTP nor RTCP and goes to the RTP parser to be rejected.
    public static func isRTCP(firstByte: UInt8, secondByte: UInt8) -> Bool {
        firstByte >> 6 == 2 && (192...223).contains(secondByte)
    }

    /// `isRTCP(firstByte:secondByte:)` on the start of `datagram`; false if it is shorter than 2 bytes.
    public static func isRTCP(_ datagram: UnsafeRawBufferPointer) -> Bool {
        datagram.count >= 2 && isRTCP(firstByte: datagram[0], secondByte: datagram[1])
    }

    // MARK: Parsing

    /// Parses the compound RTCP packet in `bytes` (one or more packets back to back).
    ///
    /// Checks (RFC 3550 appendix A.2 and the per-type layouts): version 2 in every packet,
    /// each length within the datagram and the lengths adding up to its size, padding only on
    /// the last packet and within it, report counts, SDES chunks and items and BYE sources
    /// within their packet. Any failure rejects the whole datagram.
    ///
    /// Not checked: that the first packet is an SR or RR. RFC 3550 requires it, but reduced-size
    /// RTCP (RFC 5506) allows feedback packets alone, and rejecting them gains nothing.
    public static func parseCompound(_ bytes: UnsafeRawBufferPointer) throws(RTCPParseError) -> [RTCPPacket] {
        guard !bytes.isEmpty else { throw .empty }
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .truncatedHeader(offset: offset) }
            let b0 = bytes[offset]
            guard b0 >> 6 == 2 else { throw .badVersion(offset: offset) }
            let count = Int(b0 & 0x1F)
            let packetType = bytes[offset + 1]
            let length = ((Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])) + 1) * 4
            guard length <= bytes.count - offset else { throw .lengthBeyondBuffer(offset: offset) }
            let end = offset + length
            var bodyEnd = end
            if b0 & 0x20 != 0 {
                // The last octet counts the padding octets, itself included (§6.4.1); only the
                // last packet of a compound packet may be padded (A.2).
                guard end == bytes.count else { throw .badPadding(offset: offset) }
                let padCount = Int(bytes[end - 1])
                guard padCount >= 1, padCount <= length - 4 else { throw .badPadding(offset: offset) }
                bodyEnd -= padCount
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<bodyEnd])
            packets.append(try parsePacket(type: packetType, count: count, body: body, offset: offset))
            offset = end
        }
        return packets
    }

    /// Parses the compound RTCP packet in `bytes` (see `parseCompound(_: UnsafeRawBufferPointer)`).
    public static func parseCompound(_ bytes: [UInt8]) throws(RTCPParseError) -> [RTCPPacket] {
        let result = bytes.withUnsafeBytes { raw -> Result<[RTCPPacket], RTCPParseError> in
            do throws(RTCPParseError) {
                return .success(try parseCompound(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// One packet's body (after the header, without padding); `offset` is for errors only.
    private static func parsePacket(type: UInt8, count: Int, body: UnsafeRawBufferPointer,
                                    offset: Int) throws(RTCPParseError) -> RTCPPacket {
        switch type {
        case RTCPSenderReport.packetType:
            // SSRC, NTP timestamp (8), RTP timestamp, packet count, octet count.
            let senderInfo = 24
            guard body.count >= senderInfo else { throw .truncatedPacket(offset: offset, packetType: type) }
            guard count * RTCPReportBlock.size <= body.count - senderInfo else {
                throw .reportCountOverflow(offset: offset)
            }
            // Any bytes after the blocks are a profile-specific extension, ignored (§6.4.1).
            return .senderReport(RTCPSenderReport(
                ssrc: body.uint32(at: 0),
                ntpTimestamp: NTPTimestamp(rawValue: UInt64(body.uint32(at: 4)) << 32 | UInt64(body.uint32(at: 8))),
                rtpTimestamp: body.uint32(at: 12), packetCount: body.uint32(at: 16), octetCount: body.uint32(at: 20),
                reportBlocks: reportBlocks(body, from: senderInfo, count: count)))

        case RTCPReceiverReport.packetType:
            guard body.count >= 4 else { throw .truncatedPacket(offset: offset, packetType: type) }
            guard count * RTCPReportBlock.size <= body.count - 4 else { throw .reportCountOverflow(offset: offset) }
            return .receiverReport(RTCPReceiverReport(ssrc: body.uint32(at: 0),
                                                      reportBlocks: reportBlocks(body, from: 4, count: count)))

        case RTCPSourceDescription.packetType:
            return .sourceDescription(try sourceDescription(body, count: count, offset: offset))

        case RTCPGoodbye.packetType:
            guard count * 4 <= body.count else { throw .badGoodbye(offset: offset) }
            let ssrcs = (0..<count).map { body.uint32(at: 4 * $0) }
            var reason: String?
            let reasonStart = count * 4
            if reasonStart < body.count {
                // Optional: a length octet and text; a zero length octet is just padding.
                let length = Int(body[reasonStart])
                guard length <= body.count - reasonStart - 1 else { throw .badGoodbye(offset: offset) }
                if length > 0 {
                    reason = String(decoding: body[(reasonStart + 1)..<(reasonStart + 1 + length)], as: UTF8.self)
                }
            }
            return .goodbye(RTCPGoodbye(ssrcs: ssrcs, reason: reason))

        default:
            return .other(RTCPOtherPacket(packetType: type, count: UInt8(count), body: Array(body)))
        }
    }

    /// `count` report blocks starting at `start` (the caller checked that they fit).
    private static func reportBlocks(_ body: UnsafeRawBufferPointer, from start: Int, count: Int) -> [RTCPReportBlock] {
        (0..<count).map { i in
            let o = start + i * RTCPReportBlock.size
            let lossWord = body.uint32(at: o + 4)
            return RTCPReportBlock(
                ssrc: body.uint32(at: o),
                fractionLost: UInt8(truncatingIfNeeded: lossWord >> 24),
                // Sign-extend the low 24 bits.
                cumulativeLost: Int32(bitPattern: lossWord << 8) >> 8,
                extendedHighestSequence: body.uint32(at: o + 8),
                jitter: body.uint32(at: o + 12),
                lastSenderReport: body.uint32(at: o + 16),
                delaySinceLastSenderReport: body.uint32(at: o + 20))
        }
    }

    /// SDES chunks (§6.5): each an SSRC, then items (type, length, text) ended by one or more
    /// null octets up to the next 32-bit boundary. Chunk boundaries are 32-bit aligned, and
    /// the body starts 4 bytes into the packet, so alignment relative to the body is the same.
    private static func sourceDescription(_ body: UnsafeRawBufferPointer, count: Int,
                                          offset: Int) throws(RTCPParseError) -> RTCPSourceDescription {
        var chunks: [RTCPSourceDescription.Chunk] = []
        chunks.reserveCapacity(count)
        var p = 0
        for _ in 0..<count {
            guard body.count - p >= 4 else { throw .badSourceDescription(offset: offset) }
            let ssrc = body.uint32(at: p)
            p += 4
            var cname: String?
            while true {
                guard p < body.count else { throw .badSourceDescription(offset: offset) }   // no terminator
                let itemType = body[p]
                if itemType == 0 {
                    p = (p + 4) & ~3   // past the null octet and the padding to the boundary
                    guard p <= body.count else { throw .badSourceDescription(offset: offset) }
                    break
                }
                guard body.count - p >= 2 else { throw .badSourceDescription(offset: offset) }
                let length = Int(body[p + 1])
                guard length <= body.count - p - 2 else { throw .badSourceDescription(offset: offset) }
                if itemType == RTCPSourceDescription.cnameItem, cname == nil {
                    cname = String(decoding: body[(p + 2)..<(p + 2 + length)], as: UTF8.self)
                }
                p += 2 + length
            }
            chunks.append(.init(ssrc: ssrc, cname: cname))
        }
        return RTCPSourceDescription(chunks: chunks)
    }

    // MARK: Building

    /// Appends this packet to `out`. Lists longer than a header count allows (31 report
    /// blocks, chunks or sources) are split over several packets of the same type (further
    /// report blocks go into extra RRs from the same SSRC, §6.4.2). Text longer than 255
    /// bytes (CNAME, BYE reason) is cut at a character boundary. No padding is added.
    public func append(to out: inout [UInt8]) {
        switch self {
        case .senderReport(let sr):
            let first = Array(sr.reportBlocks.prefix(Self.maxCount))
            Self.appendPacket(type: RTCPSenderReport.packetType, count: first.count, to: &out) { out in
                out.appendUInt32(sr.ssrc)
                out.appendUInt32(sr.ntpTimestamp.seconds)
                out.appendUInt32(sr.ntpTimestamp.fraction)
                out.appendUInt32(sr.rtpTimestamp)
                out.appendUInt32(sr.packetCount)
                out.appendUInt32(sr.octetCount)
                for block in first { block.append(to: &out) }
            }
            Self.appendExtraReceiverReports(ssrc: sr.ssrc, blocks: sr.reportBlocks.dropFirst(Self.maxCount), to: &out)

        case .receiverReport(let rr):
            let first = Array(rr.reportBlocks.prefix(Self.maxCount))
            Self.appendPacket(type: RTCPReceiverReport.packetType, count: first.count, to: &out) { out in
                out.appendUInt32(rr.ssrc)
                for block in first { block.append(to: &out) }
            }
            Self.appendExtraReceiverReports(ssrc: rr.ssrc, blocks: rr.reportBlocks.dropFirst(Self.maxCount), to: &out)

        case .sourceDescription(let sdes):
            var rest = sdes.chunks[...]
            repeat {
                let group = rest.prefix(Self.maxCount)
                rest = rest.dropFirst(Self.maxCount)
                Self.appendPacket(type: RTCPSourceDescription.packetType, count: group.count, to: &out) { out in
                    for chunk in group {
                        let chunkStart = out.count
                        out.appendUInt32(chunk.ssrc)
                        if let cname = chunk.cname {
                            let text = Self.truncatedUTF8(cname)
                            out.append(RTCPSourceDescription.cnameItem)
                            out.append(UInt8(text.count))
                            out.append(contentsOf: text)
                        }
                        // The terminating null octet, then nulls up to the 32-bit boundary.
                        out.append(0)
                        while (out.count - chunkStart) % 4 != 0 { out.append(0) }
                    }
                }
            } while !rest.isEmpty

        case .goodbye(let bye):
            var rest = bye.ssrcs[...]
            repeat {
                let group = rest.prefix(Self.maxCount)
                rest = rest.dropFirst(Self.maxCount)
                Self.appendPacket(type: RTCPGoodbye.packetType, count: group.count, to: &out) { out in
                    for ssrc in group { out.appendUInt32(ssrc) }
                    if rest.isEmpty, let reason = bye.reason, !reason.isEmpty {
                        let text = Self.truncatedUTF8(reason)
                        out.append(UInt8(text.count))
                        out.append(contentsOf: text)
                    }
                }
            } while !rest.isEmpty

        case .other(let other):
            precondition(other.body.count <= 4 * 65_535, "RTCP packet body too long for the length field")
            Self.appendPacket(type: other.packetType, count: Int(other.count & 0x1F), to: &out) { out in
                out.append(contentsOf: other.body)
            }
        }
    }

    /// The packets as one compound packet, in the order given. RFC 3550 §6.1 wants an SR or
    /// RR first and an SDES with a CNAME in every compound packet; the caller chooses.
    public static func compound(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(packets.count * 64)
        for packet in packets { packet.append(to: &out) }
        return out
    }

    /// Writes a header, lets `body` append, pads the body to 32 bits with zeros and fills in
    /// the length. `count` must be 0...31.
    private static func appendPacket(type: UInt8, count: Int, to out: inout [UInt8],
                                     body: (inout [UInt8]) -> Void) {
        let start = out.count
        out.append(contentsOf: [0x80 | UInt8(count & 0x1F), type, 0, 0])
        body(&out)
        while (out.count - start) % 4 != 0 { out.append(0) }
        let words = (out.count - start) / 4 - 1
        out[start + 2] = UInt8(truncatingIfNeeded: words >> 8)
        out[start + 3] = UInt8(truncatingIfNeeded: words)
    }

    private static func appendExtraReceiverReports(ssrc: UInt32, blocks: ArraySlice<RTCPReportBlock>,
                                                   to out: inout [UInt8]) {
        var rest = blocks
        while !rest.isEmpty {
            let group = rest.prefix(maxCount)
            rest = rest.dropFirst(maxCount)
            RTCPPacket.receiverReport(RTCPReceiverReport(ssrc: ssrc, reportBlocks: Array(group))).append(to: &out)
        }
    }

    /// The UTF-8 bytes of `text`, at most 255, cut before a partial character.
    private static func truncatedUTF8(_ text: String) -> ArraySlice<UInt8> {
        let bytes = Array(text.utf8)
        guard bytes.count > 255 else { return bytes[...] }
        var end = 255
        while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }   // bytes[end] continues a character
        return bytes[..<end]
    }
}

extension RTCPReportBlock {
    /// Appends the 24-byte block to `out`.
    public func append(to out: inout [UInt8]) {
        let lost = UInt32(bitPattern: RTCPReportBlock.clampedCumulativeLost(Int64(cumulativeLost))) & 0x00FF_FFFF
        out.appendUInt32(ssrc)
        out.appendUInt32(UInt32(fractionLost) << 24 | lost)
        out.appendUInt32(extendedHighestSequence)
        out.appendUInt32(jitter)
        out.appendUInt32(lastSenderReport)
        out.appendUInt32(delaySinceLastSenderReport)
    }
}

extension UnsafeRawBufferPointer {
    /// The big-endian 32-bit word at `offset` (the caller checked the bounds).
    fileprivate func uint32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}
