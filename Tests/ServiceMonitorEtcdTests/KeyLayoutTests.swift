import ServiceMonitor
import ServiceMonitorEtcd
import Testing
import TestSupport

@Suite("The etcd key layout", .tags(.fast))
struct KeyLayoutTests {
    @Test func keysStayUnderThePrefixAndLabel() throws {
        let layout = try KeyLayout(prefix: "/service-monitor/")
        let label = try Label("Web"), id = try ServiceID("web-1")
        #expect(layout.root == "/service-monitor/")
        #expect(layout.instance(label, id) == "/service-monitor/web/instances/web-1")
        #expect(layout.instances(label) == "/service-monitor/web/instances/")
        #expect(layout.startupHolder(label, id) == "/service-monitor/web/startup/holders/web-1")
        #expect(layout.startupQueueEntry(label, id) == "/service-monitor/web/startup/queue/web-1")
        #expect(try KeyLayout(prefix: "/a/b").label(label) == "/a/b/web/")
        for bad in ["", "/", "/a/../b", "/a//b", "/a\nb"] {
            #expect(throws: BadInput.self, "\(bad.debugDescription)") { try KeyLayout(prefix: bad) }
        }
    }

    @Test func parsesTheKeysItBuilds() throws {
        let layout = try KeyLayout(prefix: "/sm")
        let label = try Label("es"), id = try ServiceID("es-1")
        #expect(layout.entry(at: layout.instance(label, id)) == .instance(label: "es", serviceID: "es-1"))
        #expect(layout.entry(at: layout.startupHolder(label, id)) == .startupHolder(label: "es", serviceID: "es-1"))
        #expect(layout.entry(at: layout.startupQueueEntry(label, id)) == .startupQueueEntry(label: "es", serviceID: "es-1"))
        #expect(layout.entry(at: layout.startupAdmissions(label)) == .startupAdmissions(label: "es"))
        for other in ["/sm/es/other/x", "/sm/es/instances/a/b", "/other/es/instances/a", "/sm/es/startup/holders", "/sm//instances/a"] {
            #expect(layout.entry(at: other) == nil, "\(other)")
        }
    }
}
