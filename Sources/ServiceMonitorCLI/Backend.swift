import DynamoDB
import Etcd
import Logging
import ServiceLifecycle
import ServiceMonitor
import ServiceMonitorDynamoDB
import ServiceMonitorEtcd

/// The stores `--backend` can name.
enum BackendKind: String, CaseIterable, Sendable {
    case etcd
    case dynamodb
}

// The one place a command gets its store.
extension Settings {
    /// Runs `body` with the chosen backend, connected while `body` runs (one-shot commands).
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
