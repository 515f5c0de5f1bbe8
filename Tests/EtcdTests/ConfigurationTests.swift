import Etcd
import Testing
import TestSupport

@Suite("Client configuration", .tags(.fast))
struct ConfigurationTests {
    @Test func defaultsPointAtLocalEtcd() {
        let defaults = EtcdClient.Configuration.defaults
        #expect(defaults.endpoints == ["http://127.0.0.1:2379"])
        #expect(defaults.requestTimeout == .seconds(5))
        #expect(defaults.dialTimeout == .seconds(1))
        #expect(defaults.tls == nil)
        #expect(defaults.credentials == nil)
    }

    @Test(arguments: ["127.0.0.1:2379", "ftp://127.0.0.1:2379", "http://", "http://host:notaport", "http://host:70000", "http://::1:2379"])
    func rejectsMalformedEndpoints(_ endpoint: String) {
        #expect {
            _ = try EtcdClient(configuration: .init(endpoints: [endpoint]))
        } throws: { error in
            (error as? EtcdError)?.code == .invalidConfiguration
        }
    }

    @Test(arguments: ["http://127.0.0.1:2379", "https://etcd.example:2379", "http://[::1]:2379", "http://localhost"])
    func acceptsWellFormedEndpoints(_ endpoint: String) throws {
        _ = try EtcdClient(configuration: .init(endpoints: [endpoint]))
    }

    @Test func rejectsEmptyEndpointList() {
        #expect {
            _ = try EtcdClient(configuration: .init(endpoints: []))
        } throws: { error in
            (error as? EtcdError)?.code == .invalidConfiguration
        }
    }

    @Test func prefixRangeEndsAfterTheLastKeyWithThePrefix() {
        #expect(KeyRange.prefix("/a").rangeEnd == Array("/b".utf8))
        #expect(KeyRange.prefix([0x61, 0xFF] as [UInt8]).rangeEnd == [0x62])
        #expect(KeyRange.prefix("").key == [0])
        #expect(KeyRange.prefix("").rangeEnd == [0])
        #expect(KeyRange.key("/a").rangeEnd.isEmpty)
    }

    @Test func printingCredentialsOrAConfigurationNeverShowsThePassword() {
        let configuration = EtcdClient.Configuration(endpoints: ["http://127.0.0.1:2379"], credentials: .init(user: "monitor", password: "s3cret-pw"))
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), "\(configuration.credentials!)", dumped] {
            #expect(!text.contains("s3cret-pw"), "\(text)")
            #expect(text.contains("monitor"), "\(text)")
        }
    }
}
