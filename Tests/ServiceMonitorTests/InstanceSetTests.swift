import ServiceMonitor
import Testing
import TestSupport

/// The registry's view of a label: oldest registration first, ties by key, values that are not
/// records left out.
@Suite("Instance set", .tags(.fast))
struct InstanceSetTests {
    private func value(_ serviceID: String, _ state: String) -> [UInt8] {
        Array(#"{"service_id":"\#(serviceID)","host":"10.0.0.\#(serviceID.count)","state":"\#(state)","since":"2026-12-03T10:00:00.000Z","detail":"d","info":{"name":"\#(serviceID)"}}"#.utf8)
    }

    @Test func ordersByRegistrationThenKeyAndSkipsWhatIsNotARecord() {
        var set = InstanceSet()
        set.put(key: "/p/web/instances/c", order: 7, value: value("c", "up"))
        set.put(key: "/p/web/instances/b", order: 3, value: value("b", "down"))
        set.put(key: "/p/web/instances/z", order: 3, value: value("z", "up"))
        set.put(key: "/p/web/instances/a", order: 9, value: value("a", "up"))
        set.put(key: "/p/web/instances/junk", order: 1, value: Array("not json".utf8))
        #expect(set.all.map(\.serviceID) == ["b", "z", "c", "a"])
        #expect(set.up.map(\.serviceID) == ["z", "c", "a"])

        // A rewrite keeps the registration order it is given; a removal drops the instance.
        set.put(key: "/p/web/instances/b", order: 3, value: value("b", "up"))
        set.remove(key: "/p/web/instances/c")
        #expect(set.up.map(\.serviceID) == ["b", "z", "a"])
    }

    @Test func thousandsSortAsTheyRegistered() {
        var set = InstanceSet(capacity: 5_000)
        for index in (0..<5_000).shuffled() {
            set.put(key: "/p/web/instances/i\(index)", order: Int64(index / 10), value: value("i\(index)", "up"))
        }
        let ids = set.up.map(\.serviceID)
        let expected = (0..<5_000).map { "i\($0)" }.sorted {
            (Int($0.dropFirst())! / 10, "/p/web/instances/" + $0) < (Int($1.dropFirst())! / 10, "/p/web/instances/" + $1)
        }
        #expect(ids == expected)
    }

    /// A one-shot listing comes in key order, as etcd lists: its ties go by position and must
    /// come out as the set's, which compares keys.
    @Test func aListingInKeyOrderSortsAsTheSetDoes() throws {
        var set = InstanceSet()
        var listing: [(key: String, order: Int64, value: [UInt8])] = []
        for index in 0..<2_000 {
            // Ten to a revision, registered in an order unlike the keys' (shuffled revisions).
            let id = "i\(index)", order = Int64((index * 7919) % 2_000 / 10)
            listing.append((key: "/p/web/instances/\(id)", order: order, value: value(id, index % 5 == 0 ? "down" : "up")))
            set.put(key: "/p/web/instances/\(id)", order: order, value: listing[index].value)
        }
        listing.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let listed = try listing.map { InstanceSet.Listed(order: $0.order, record: try InstanceRecord.decode($0.value)) }
        let sorted = InstanceSet.all(ofListing: listed)
        #expect(sorted.map(\.serviceID) == set.all.map(\.serviceID))
        #expect(Set(sorted.map(\.serviceID)).count == 2_000)
    }
}
