import XCTest
import SIPMessages
@testable import SIPStack

final class LocationServiceTests: XCTestCase {
    private let policy = RegistrarPolicy()

    // MARK: - Register, refresh, unregister, query

    func testRegisterCreatesBinding() throws {
        var ls = LocationService<String>()
        let req = try registerRequest(contacts: ["<sip:1001@127.0.0.1:5062>"], userAgent: "Phone/1.0")
        let result = ls.register(aor: "1001", request: req, flow: "udp-1", source: "127.0.0.1:5062", now: 100, policy: policy)
        let (bindings, now) = try ok(result)
        XCTAssertEqual(now, 100)
        XCTAssertEqual(bindings.count, 1)
        let b = try XCTUnwrap(bindings.first)
        XCTAssertEqual(b.aor, "1001")
        XCTAssertEqual(b.contact.uri.description, "sip:1001@127.0.0.1:5062")
        XCTAssertEqual(b.expiresAt, 100 + 3600)
        XCTAssertEqual(b.callID, "reg-call-1")
        XCTAssertEqual(b.cseq, 1)
        XCTAssertEqual(b.q, 1.0)
        XCTAssertEqual(b.flow, "udp-1")
        XCTAssertEqual(b.source, "127.0.0.1:5062")
        XCTAssertEqual(b.userAgent, "Phone/1.0")
        XCTAssertTrue(b.reachable)
        XCTAssertEqual(b.registeredAt, 100)
        XCTAssertEqual(ls.count, 1)
        XCTAssertEqual(ls.contactHeaderValues(bindings, now: now), ["<sip:1001@127.0.0.1:5062>;expires=3600"])
    }

    func testQueryReturnsBindingsAndChangesNothing() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"]),
                               flow: "f", source: "s", now: 0, policy: policy))
        let query = try registerRequest(contacts: [], cseq: 2)
        let (bindings, _) = try ok(ls.register(aor: "1001", request: query, flow: "other", source: "s2", now: 10, policy: policy))
        XCTAssertEqual(bindings.count, 1)
        XCTAssertEqual(bindings.first?.flow, "f")
        XCTAssertEqual(bindings.first?.cseq, 1)
        XCTAssertEqual(bindings.first?.expiresAt, 3600)
        XCTAssertEqual(ls.contactHeaderValues(bindings, now: 10), ["<sip:1001@10.0.0.1>;expires=3590"])

        // A query for an AOR without bindings is an empty 200.
        let (none, _) = try ok(ls.register(aor: "1002", request: query, flow: "f", source: "s", now: 10, policy: policy))
        XCTAssertTrue(none.isEmpty)
    }

    func testRefreshUpdatesBinding() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1:5062>"], cseq: 1),
                               flow: "old", source: "10.0.0.1:5062", now: 0, policy: policy))
        let refresh = try registerRequest(contacts: ["<sip:1001@10.0.0.1:5062>"], expires: 600, cseq: 2)
        let (bindings, _) = try ok(ls.register(aor: "1001", request: refresh, flow: "new", source: "10.0.0.1:5062", now: 1000, policy: policy))
        XCTAssertEqual(bindings.count, 1)
        XCTAssertEqual(bindings.first?.expiresAt, 1600)
        XCTAssertEqual(bindings.first?.cseq, 2)
        XCTAssertEqual(bindings.first?.flow, "new")
        XCTAssertEqual(bindings.first?.registeredAt, 1000)
        XCTAssertEqual(ls.count, 1)
    }

    func testUnregisterWithExpiresHeaderAndParameter() throws {
        var ls = LocationService<String>()
        let two = try registerRequest(contacts: ["<sip:1001@10.0.0.1>", "<sip:1001@10.0.0.2>"], cseq: 1)
        _ = try ok(ls.register(aor: "1001", request: two, flow: "f", source: "s", now: 0, policy: policy))
        XCTAssertEqual(ls.count, 2)

        // expires=0 on the contact wins over the Expires header.
        let byParam = try registerRequest(contacts: ["<sip:1001@10.0.0.1>;expires=0"], expires: 3600, cseq: 2)
        let (left, _) = try ok(ls.register(aor: "1001", request: byParam, flow: "f", source: "s", now: 5, policy: policy))
        XCTAssertEqual(left.map(\.contact.uri.host), ["10.0.0.2"])

        let byHeader = try registerRequest(contacts: ["<sip:1001@10.0.0.2>"], expires: 0, cseq: 3)
        let (none, _) = try ok(ls.register(aor: "1001", request: byHeader, flow: "f", source: "s", now: 6, policy: policy))
        XCTAssertTrue(none.isEmpty)
        XCTAssertEqual(ls.count, 0)
        XCTAssertEqual(ls.aorCount, 0)

        // Removing a contact that is not bound is a plain 200.
        let unknown = try registerRequest(contacts: ["<sip:1001@10.9.9.9>"], expires: 0, cseq: 4)
        XCTAssertTrue(try ok(ls.register(aor: "1001", request: unknown, flow: "f", source: "s", now: 7, policy: policy)).0.isEmpty)
    }

    // MARK: - Contact: *

    func testWildcardRemovesAllBindings() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], callID: "a", cseq: 1),
                               flow: "f", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.2>"], callID: "b", cseq: 7),
                               flow: "f", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "2002", request: registerRequest(contacts: ["<sip:2002@10.0.0.3>"]),
                               flow: "f", source: "s", now: 0, policy: policy))
        // Different Call-ID: a lower CSeq does not matter.
        let star = try registerRequest(rawContacts: ["*"], expires: 0, callID: "c", cseq: 1)
        let (bindings, _) = try ok(ls.register(aor: "1001", request: star, flow: "f", source: "s", now: 1, policy: policy))
        XCTAssertTrue(bindings.isEmpty)
        XCTAssertTrue(ls.bindings(for: "1001", now: 1).isEmpty)
        XCTAssertEqual(ls.bindings(for: "2002", now: 1).count, 1)
    }

    func testWildcardValidation() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"]),
                               flow: "f", source: "s", now: 0, policy: policy))
        let noExpires = try registerRequest(rawContacts: ["*"], cseq: 2)
        assertInvalid(ls.register(aor: "1001", request: noExpires, flow: "f", source: "s", now: 1, policy: policy))
        let nonZero = try registerRequest(rawContacts: ["*"], expires: 60, cseq: 2)
        assertInvalid(ls.register(aor: "1001", request: nonZero, flow: "f", source: "s", now: 1, policy: policy))
        let mixed = try registerRequest(rawContacts: ["*", "<sip:1001@10.0.0.1>"], expires: 0, cseq: 2)
        assertInvalid(ls.register(aor: "1001", request: mixed, flow: "f", source: "s", now: 1, policy: policy))
        let mixedOneLine = try registerRequest(rawContacts: ["<sip:1001@10.0.0.1>, *"], expires: 0, cseq: 2)
        assertInvalid(ls.register(aor: "1001", request: mixedOneLine, flow: "f", source: "s", now: 1, policy: policy))
        XCTAssertEqual(ls.count, 1)
    }

    func testWildcardOutOfOrderChangesNothing() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], callID: "a", cseq: 5),
                               flow: "f", source: "s", now: 0, policy: policy))
        let star = try registerRequest(rawContacts: ["*"], expires: 0, callID: "a", cseq: 5)
        assertOutOfOrder(ls.register(aor: "1001", request: star, flow: "f", source: "s", now: 1, policy: policy))
        XCTAssertEqual(ls.count, 1)
        let later = try registerRequest(rawContacts: ["*"], expires: 0, callID: "a", cseq: 6)
        XCTAssertTrue(try ok(ls.register(aor: "1001", request: later, flow: "f", source: "s", now: 1, policy: policy)).0.isEmpty)
    }

    // MARK: - Several contacts, ordering, expiry

    func testSeveralContactsOrderedByQThenRecency() throws {
        var ls = LocationService<String>()
        let first = try registerRequest(contacts: ["<sip:1001@10.0.0.1>;q=0.5", "<sip:1001@10.0.0.2>;q=0.9"], callID: "a")
        _ = try ok(ls.register(aor: "1001", request: first, flow: "f", source: "s", now: 0, policy: policy))
        let second = try registerRequest(contacts: ["<sip:1001@10.0.0.3>;q=0.5"], callID: "b")
        let (bindings, _) = try ok(ls.register(aor: "1001", request: second, flow: "f", source: "s", now: 10, policy: policy))
        XCTAssertEqual(bindings.map(\.contact.uri.host), ["10.0.0.2", "10.0.0.3", "10.0.0.1"])
        XCTAssertEqual(bindings.map(\.q), [0.9, 0.5, 0.5])
        XCTAssertEqual(ls.bindings(for: "1001", now: 20).map(\.contact.uri.host), ["10.0.0.2", "10.0.0.3", "10.0.0.1"])

        XCTAssertTrue(ls.setReachable(aor: "1001", contact: "sip:1001@10.0.0.2", reachable: false))
        XCTAssertEqual(ls.bindings(for: "1001", now: 20).map(\.contact.uri.host), ["10.0.0.3", "10.0.0.1", "10.0.0.2"])
        XCTAssertTrue(ls.setReachable(aor: "1001", contact: "<sip:1001@10.0.0.2:5060>", reachable: true))
        XCTAssertEqual(ls.bindings(for: "1001", now: 20).first?.contact.uri.host, "10.0.0.2")
        XCTAssertFalse(ls.setReachable(aor: "1001", contact: "sip:1001@10.0.0.9", reachable: false))
        XCTAssertFalse(ls.setReachable(aor: "9999", contact: "sip:1001@10.0.0.2", reachable: false))

        let bad = try registerRequest(contacts: ["<sip:1001@10.0.0.4>;q=1.5"], callID: "c")
        assertInvalid(ls.register(aor: "1001", request: bad, flow: "f", source: "s", now: 30, policy: policy))
    }

    func testExpiry() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 60, callID: "a"),
                               flow: "f", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.2>"], expires: 120, callID: "b"),
                               flow: "f", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "2002", request: registerRequest(contacts: ["<sip:2002@10.0.0.3>"], expires: 60, callID: "c"),
                               flow: "f", source: "s", now: 0, policy: policy))
        XCTAssertEqual(ls.allBindings(now: 59.5).count, 3)
        XCTAssertEqual(ls.contactHeaderValues(ls.bindings(for: "2002", now: 59.5), now: 59.5), ["<sip:2002@10.0.0.3>;expires=1"])
        XCTAssertEqual(ls.bindings(for: "1001", now: 60).map(\.contact.uri.host), ["10.0.0.2"])
        XCTAssertEqual(ls.allBindings(now: 60).map(\.aor), ["1001"])
        XCTAssertEqual(ls.count, 3, "expired bindings are held until expire(now:)")

        let expired = ls.expire(now: 60)
        XCTAssertEqual(Set(expired.map(\.contact.uri.host)), ["10.0.0.1", "10.0.0.3"])
        XCTAssertEqual(ls.count, 1)
        XCTAssertEqual(ls.aorCount, 1)
        XCTAssertTrue(ls.expire(now: 60).isEmpty)
        XCTAssertEqual(ls.expire(now: 500).count, 1)
        XCTAssertEqual(ls.count, 0)
    }

    func testReRegisteringAnExpiredContactSupersedesIt() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 60, cseq: 1),
                               flow: "f", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.2>"], expires: 60, callID: "b"),
                               flow: "f", source: "s", now: 0, policy: policy))
        // Same Call-ID and CSeq as the expired binding: expired bindings are not compared.
        let again = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 60, cseq: 1)
        let (bindings, _) = try ok(ls.register(aor: "1001", request: again, flow: "f", source: "s", now: 100, policy: policy))
        XCTAssertEqual(bindings.map(\.contact.uri.host), ["10.0.0.1"])
        // Only the other expired binding is reported.
        XCTAssertEqual(ls.expire(now: 100).map(\.contact.uri.host), ["10.0.0.2"])
        XCTAssertEqual(ls.count, 1)
    }

    // MARK: - Expiry intervals (§10.3 step 7)

    func testIntervalTooBriefBoundary() throws {
        var ls = LocationService<String>()
        let p = RegistrarPolicy(minExpires: 60)
        let brief = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 59)
        guard case .intervalTooBrief(let minExpires) = ls.register(aor: "1001", request: brief, flow: "f", source: "s", now: 0, policy: p) else {
            return XCTFail("expected 423")
        }
        XCTAssertEqual(minExpires, 60)
        XCTAssertEqual(ls.count, 0)

        let exact = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 60, cseq: 2)
        XCTAssertEqual(try ok(ls.register(aor: "1001", request: exact, flow: "f", source: "s", now: 0, policy: p)).0.first?.expiresAt, 60)

        // One brief contact refuses the whole request: the other contact is not added.
        let mixed = try registerRequest(contacts: ["<sip:1001@10.0.0.2>;expires=3600", "<sip:1001@10.0.0.3>;expires=1"], cseq: 3)
        guard case .intervalTooBrief = ls.register(aor: "1001", request: mixed, flow: "f", source: "s", now: 0, policy: p) else {
            return XCTFail("expected 423")
        }
        XCTAssertEqual(ls.count, 1)

        let zero = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 0, cseq: 4)
        XCTAssertTrue(try ok(ls.register(aor: "1001", request: zero, flow: "f", source: "s", now: 0, policy: p)).0.isEmpty)
    }

    func testExpiresDefaultsAndClamp() throws {
        var ls = LocationService<String>()
        let p = RegistrarPolicy(minExpires: 60, maxExpires: 1800, defaultExpires: 900)
        let req = try registerRequest(contacts: [
            "<sip:1001@10.0.0.1>",                    // default
            "<sip:1001@10.0.0.2>;expires=7200",       // clamped
            "<sip:1001@10.0.0.3>;expires=120",        // parameter
            "<sip:1001@10.0.0.4>;expires=99999999999", // overflow → clamped
        ])
        let (bindings, _) = try ok(ls.register(aor: "1001", request: req, flow: "f", source: "s", now: 0, policy: p))
        let byHost = Dictionary(uniqueKeysWithValues: bindings.map { ($0.contact.uri.host, $0.expiresAt) })
        XCTAssertEqual(byHost, ["10.0.0.1": 900, "10.0.0.2": 1800, "10.0.0.3": 120, "10.0.0.4": 1800])
        // The stored Contact has no expires parameter.
        XCTAssertTrue(bindings.allSatisfy { $0.contact.parameter("expires") == nil })

        let header = try registerRequest(contacts: ["<sip:1001@10.0.0.5>"], expires: 300, cseq: 2)
        let (after, _) = try ok(ls.register(aor: "1001", request: header, flow: "f", source: "s", now: 0, policy: p))
        XCTAssertEqual(after.first { $0.contact.uri.host == "10.0.0.5" }?.expiresAt, 300)
    }

    // MARK: - Call-ID / CSeq ordering

    func testOutOfOrderCSeq() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], callID: "a", cseq: 10),
                               flow: "f", source: "s", now: 0, policy: policy))
        for cseq: UInt32 in [10, 9] {
            let stale = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 0, callID: "a", cseq: cseq)
            assertOutOfOrder(ls.register(aor: "1001", request: stale, flow: "f", source: "s", now: 1, policy: policy))
        }
        XCTAssertEqual(ls.count, 1)
        // A new Call-ID (the UA rebooted) may start at any CSeq.
        let rebooted = try registerRequest(contacts: ["<sip:1001@10.0.0.1>"], expires: 120, callID: "b", cseq: 1)
        let (bindings, _) = try ok(ls.register(aor: "1001", request: rebooted, flow: "f", source: "s", now: 2, policy: policy))
        XCTAssertEqual(bindings.first?.callID, "b")
        XCTAssertEqual(bindings.first?.expiresAt, 122)
    }

    func testOutOfOrderIsAllOrNothing() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"], callID: "a", cseq: 10),
                               flow: "f", source: "s", now: 0, policy: policy))
        let req = try registerRequest(contacts: ["<sip:1001@10.0.0.2>", "<sip:1001@10.0.0.1>"], callID: "a", cseq: 3)
        assertOutOfOrder(ls.register(aor: "1001", request: req, flow: "f", source: "s", now: 1, policy: policy))
        XCTAssertEqual(ls.bindings(for: "1001", now: 1).map(\.contact.uri.host), ["10.0.0.1"])
    }

    func testSameContactTwiceInOneRequest() throws {
        var ls = LocationService<String>()
        let req = try registerRequest(contacts: ["<sip:1001@10.0.0.1>;expires=100", "<sip:1001@10.0.0.1>;expires=200"])
        let (bindings, _) = try ok(ls.register(aor: "1001", request: req, flow: "f", source: "s", now: 0, policy: policy))
        XCTAssertEqual(bindings.count, 1)
        XCTAssertEqual(bindings.first?.expiresAt, 200)
    }

    // MARK: - Limits

    func testMaxContactsPerAOR() throws {
        var ls = LocationService<String>()
        let p = RegistrarPolicy(maxContactsPerAOR: 2)
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>", "<sip:1001@10.0.0.2>"], cseq: 1),
                               flow: "f", source: "s", now: 0, policy: p))
        let third = try registerRequest(contacts: ["<sip:1001@10.0.0.3>"], cseq: 2)
        guard case .tooManyContacts(let limit) = ls.register(aor: "1001", request: third, flow: "f", source: "s", now: 1, policy: p) else {
            return XCTFail("expected 403")
        }
        XCTAssertEqual(limit, 2)
        XCTAssertEqual(ls.count, 2)
        // Refreshing at the limit is fine, and so is replacing one contact by another.
        let refresh = try registerRequest(contacts: ["<sip:1001@10.0.0.1>", "<sip:1001@10.0.0.2>"], cseq: 3)
        XCTAssertEqual(try ok(ls.register(aor: "1001", request: refresh, flow: "f", source: "s", now: 2, policy: p)).0.count, 2)
        let swap = try registerRequest(contacts: ["<sip:1001@10.0.0.1>;expires=0", "<sip:1001@10.0.0.3>"], cseq: 4)
        let (after, _) = try ok(ls.register(aor: "1001", request: swap, flow: "f", source: "s", now: 3, policy: p))
        XCTAssertEqual(Set(after.map(\.contact.uri.host)), ["10.0.0.2", "10.0.0.3"])
    }

    // MARK: - Matching

    func testInstanceIDMatching() throws {
        var ls = LocationService<String>()
        let instance = "\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\""
        let first = try registerRequest(contacts: ["<sip:1001@10.0.0.1:5062;transport=tcp>;+sip.instance=\(instance);reg-id=1"], callID: "a")
        let (b1, _) = try ok(ls.register(aor: "1001", request: first, flow: "conn-1", source: "10.0.0.1:5062", now: 0, policy: policy))
        XCTAssertEqual(b1.first?.instanceID, "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>")
        XCTAssertEqual(b1.first?.regID, 1)

        // New address (e.g. after a network change), same instance and reg-id: replaces.
        let moved = try registerRequest(contacts: ["<sip:1001@192.168.1.7:40000;transport=tcp>;+sip.instance=\(instance);reg-id=1"], callID: "b")
        let (b2, _) = try ok(ls.register(aor: "1001", request: moved, flow: "conn-2", source: "192.168.1.7:40000", now: 10, policy: policy))
        XCTAssertEqual(b2.count, 1)
        XCTAssertEqual(b2.first?.contact.uri.host, "192.168.1.7")
        XCTAssertEqual(b2.first?.flow, "conn-2")

        // A second flow of the same instance (reg-id 2) is a separate binding (RFC 5626).
        let secondFlow = try registerRequest(contacts: ["<sip:1001@192.168.1.7:40001;transport=tcp>;+sip.instance=\(instance);reg-id=2"], callID: "c")
        XCTAssertEqual(try ok(ls.register(aor: "1001", request: secondFlow, flow: "conn-3", source: "s", now: 20, policy: policy)).0.count, 2)

        // Without instance, the same URI as an instance binding matches by URI.
        let plain = try registerRequest(contacts: ["<sip:1001@192.168.1.7:40001;transport=TCP>"], expires: 0, callID: "d")
        let (b3, _) = try ok(ls.register(aor: "1001", request: plain, flow: "f", source: "s", now: 30, policy: policy))
        XCTAssertEqual(b3.map(\.regID), [1])
    }

    func testURIEqualityForBindings() throws {
        func eq(_ a: String, _ b: String) throws -> Bool {
            registrarURIsEqual(try SIPURI.parse(a), try SIPURI.parse(b))
        }
        XCTAssertTrue(try eq("sip:1001@EXAMPLE.com", "sip:1001@example.com"))
        XCTAssertTrue(try eq("sip:1001@10.0.0.1", "sip:1001@10.0.0.1:5060"))
        XCTAssertTrue(try eq("sips:1001@10.0.0.1", "sips:1001@10.0.0.1:5061"))
        XCTAssertTrue(try eq("sip:1001@10.0.0.1;transport=TCP", "sip:1001@10.0.0.1;transport=tcp;ob"))
        XCTAssertFalse(try eq("sip:1001@10.0.0.1", "sip:1001@10.0.0.1;transport=tcp"))
        XCTAssertFalse(try eq("sip:1001@10.0.0.1", "sip:1001@10.0.0.1:5062"))
        XCTAssertFalse(try eq("sip:1001@10.0.0.1", "sip:ALICE@10.0.0.1"))
        XCTAssertFalse(try eq("sip:1001@10.0.0.1", "sip:1002@10.0.0.1"))
        XCTAssertFalse(try eq("sip:1001@10.0.0.1", "sips:1001@10.0.0.1"))
        XCTAssertTrue(try eq("tel:+15551234", "tel:+15551234"))

        // Through register(): a port-less refresh of port 5060 is the same binding.
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@Phone.example.com:5060>"], cseq: 1),
                               flow: "f", source: "s", now: 0, policy: policy))
        let (b, _) = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["sip:1001@phone.example.com"], cseq: 2),
                                        flow: "f", source: "s", now: 0, policy: policy))
        XCTAssertEqual(b.count, 1)
    }

    // MARK: - Rendering

    func testContactRenderingKeepsOutboundParameters() throws {
        var ls = LocationService<String>()
        let req = try registerRequest(contacts: [
            "\"Desk\" <sip:1001@127.0.0.1:5062;transport=tcp;ob>;expires=1800;+sip.instance=\"<urn:uuid:abc>\";reg-id=1;q=0.7",
        ])
        _ = try ok(ls.register(aor: "1001", request: req, flow: "f", source: "s", now: 1000, policy: policy))
        let values = ls.contactHeaderValues(ls.bindings(for: "1001", now: 1000.5), now: 1000.5)
        XCTAssertEqual(values, ["<sip:1001@127.0.0.1:5062;transport=tcp;ob>;+sip.instance=\"<urn:uuid:abc>\";reg-id=1;q=0.7;expires=1799"])
        // The rendered value parses back.
        let parsed = try NameAddress.parse(values[0])
        XCTAssertEqual(parsed.parameter("expires"), .some("1799"))
    }

    func testInvalidContact() throws {
        var ls = LocationService<String>()
        // The parser already refuses a malformed Contact; the registrar does not rely on it.
        var req = try registerRequest(rawContacts: ["<sip:1001@10.0.0.1>"])
        req.headers.set("Contact", "<sip:1001@10.0.0.1")
        assertInvalid(ls.register(aor: "1001", request: req, flow: "f", source: "s", now: 0, policy: policy))
        let badRegID = try registerRequest(contacts: ["<sip:1001@10.0.0.1>;+sip.instance=\"<urn:uuid:x>\";reg-id=abc"])
        assertInvalid(ls.register(aor: "1001", request: badRegID, flow: "f", source: "s", now: 0, policy: policy))
        XCTAssertEqual(ls.count, 0)
    }

    // MARK: - Maintenance

    func testRemoveAORAndRemoveWhere() throws {
        var ls = LocationService<String>()
        _ = try ok(ls.register(aor: "1001", request: registerRequest(contacts: ["<sip:1001@10.0.0.1>"]),
                               flow: "conn-1", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "1002", request: registerRequest(contacts: ["<sip:1002@10.0.0.2>"]),
                               flow: "conn-2", source: "s", now: 0, policy: policy))
        _ = try ok(ls.register(aor: "1003", request: registerRequest(contacts: ["<sip:1003@10.0.0.3>"]),
                               flow: "conn-2", source: "s", now: 0, policy: policy))
        XCTAssertEqual(ls.allBindings(now: 1).map(\.aor), ["1001", "1002", "1003"])
        XCTAssertEqual(ls.remove(aor: "1001").count, 1)
        XCTAssertTrue(ls.remove(aor: "1001").isEmpty)
        // A closed connection takes its bindings with it.
        XCTAssertEqual(Set(ls.removeAll { $0.flow == "conn-2" }.map(\.aor)), ["1002", "1003"])
        XCTAssertEqual(ls.count, 0)
        XCTAssertEqual(ls.aorCount, 0)
    }

    // MARK: - Helpers

    private func registerRequest(
        contacts: [String], expires: Int? = nil, callID: String = "reg-call-1", cseq: UInt32 = 1, userAgent: String? = nil
    ) throws -> SIPRequest {
        try registerRequest(rawContacts: contacts, expires: expires, callID: callID, cseq: cseq, userAgent: userAgent)
    }

    /// Parses a REGISTER with one Contact line per element of `rawContacts`.
    private func registerRequest(
        rawContacts: [String], expires: Int? = nil, callID: String = "reg-call-1", cseq: UInt32 = 1, userAgent: String? = nil
    ) throws -> SIPRequest {
        var text = "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
        text += "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-\(callID)-\(cseq)\r\n"
        text += "Max-Forwards: 70\r\n"
        text += "From: <sip:1001@127.0.0.1>;tag=t1\r\n"
        text += "To: <sip:1001@127.0.0.1>\r\n"
        text += "Call-ID: \(callID)\r\n"
        text += "CSeq: \(cseq) REGISTER\r\n"
        for c in rawContacts { text += "Contact: \(c)\r\n" }
        if let expires { text += "Expires: \(expires)\r\n" }
        if let userAgent { text += "User-Agent: \(userAgent)\r\n" }
        text += "Content-Length: 0\r\n\r\n"
        guard case .request(let r) = try SIPParser().parse(datagram: Array(text.utf8)) else {
            throw RegistrarTestError(description: "not a request")
        }
        return r
    }

    private func ok(_ result: RegistrationResult<String>, file: StaticString = #filePath, line: UInt = #line) throws -> ([Binding<String>], Double) {
        guard case .ok(let bindings, let now) = result else {
            XCTFail("expected 200, got \(result)", file: file, line: line)
            throw RegistrarTestError(description: "expected 200, got \(result)")
        }
        return (bindings, now)
    }

    private func assertInvalid(_ result: RegistrationResult<String>, file: StaticString = #filePath, line: UInt = #line) {
        guard case .invalid = result else { return XCTFail("expected 400, got \(result)", file: file, line: line) }
    }

    private func assertOutOfOrder(_ result: RegistrationResult<String>, file: StaticString = #filePath, line: UInt = #line) {
        guard case .outOfOrder = result else { return XCTFail("expected 500, got \(result)", file: file, line: line) }
    }
}

private struct RegistrarTestError: Error, CustomStringConvertible {
    var description: String
}
