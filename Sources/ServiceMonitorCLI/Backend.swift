import DynamoDB
import Etcd
import Logging
import ServiceLifecycle
import ServiceMonitor
import ServiceMonitorDynamoDB
import ServiceMonitorEtcd

#if canImport(Glibc)
import Glibc
#endif

/// The stores `--backend` can name.
enum BackendKind: String, CaseIterable, Sendable {
    case etcd
    case dynamodb
}

// The one place a command gets its store.
extension Settings {
    /// For a one-shot command: runs `body` with the chosen backend, then ends the process with
    /// the status `body` returns, as soon as it returns, its output written.
    ///
    /// The connection is not closed first: the end of the process closes it, as etcdctl's does.
    /// Closing it gracefully (gRPC's GOAWAY, the client's tasks winding down) came after the
    /// answer and took a `hosts` of 50 ~7% of its wall time. An error `body` throws closes the
    /// connection as usual on its way to the caller.
    func withBackendThenExit(_ body: (any StoreBackend) async throws -> ExitStatus) async throws -> Never {
        try await withBackend { backend in
            Glibc.exit(try await body(backend).rawValue)
        }
    }

    /// Runs `body` with the chosen backend, connected while `body` runs.
    func withBackend<Result: Sendable>(_ body: (any StoreBackend) async throws -> Result) async throws -> Result {
        switch backend {
        case .etcd:
            try await withEtcdClient(etcd) { client in
                try await body(EtcdBackend(client: client, layout: layout))
            }
        case .dynamodb:
            try await body(try dynamoDBBackend())
        }
    }

    /// The client as the AWS SDKs configure one (over the shared HTTP client: nothing to run
    /// or shut down), every request bounded by `--command-timeout`.
    func dynamoDBClient() throws -> DynamoDBClient {
        try DynamoDBClient.standard(region: dynamoDB.region, endpoint: dynamoDB.endpoint, environment: environment)
    }

    func dynamoDBBackend() throws -> DynamoDBBackend {
        DynamoDBBackend(
            client: try dynamoDBClient(), layout: dynamoDB.layout, requestTimeout: commandTimeout, pollInterval: dynamoDB.pollInterval
        )
    }

    /// For a long-running command: the chosen backend and the services that keep it connected,
    /// to run first in the command's `ServiceGroup` (so graceful shutdown stops them last, after
    /// the command's own services have used them to clean up).
    func makeBackend(logger: Logger) throws -> (backend: any StoreBackend, services: [any Service]) {
        switch backend {
        case .etcd:
            let client = try EtcdClient(configuration: etcd, logger: logger)
            return (EtcdBackend(client: client, layout: layout), [client])
        case .dynamodb:
            return (try dynamoDBBackend(), [])
        }
    }
}
