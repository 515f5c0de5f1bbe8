import ArgumentParser
import Etcd
import Posix
import ServiceMonitor
import ServiceMonitorDynamoDB
import ServiceMonitorEtcd
import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes; each also comes from the environment (a flag wins).
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("etcd client URLs, comma separated (env SERVICE_MONITOR_ENDPOINTS, else ETCDCTL_ENDPOINTS).", valueName: "urls"))
    var endpoints: String?

    @Option(help: ArgumentHelp("Key prefix for all state (env SERVICE_MONITOR_PREFIX; default /service-monitor).", valueName: "key"))
    var prefix: String?

    @Option(help: ArgumentHelp("CA bundle for https endpoints (env ETCDCTL_CACERT).", valueName: "file"))
    var cacert: String?

    @Option(help: ArgumentHelp("Client certificate for https endpoints (env ETCDCTL_CERT).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("Client key for https endpoints (env ETCDCTL_KEY).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("etcd user, name or name:password (env ETCDCTL_USER; password also from the file named by SERVICE_MONITOR_PASSWORD_FILE, preferred: argv is visible to every local user).", valueName: "name[:password]"))
    var user: String?

    @Option(help: ArgumentHelp("Address published for this host (env COREOS_PRIVATE_IPV4; default: the address of the default route's interface).", valueName: "address"))
    var hostIP: String?

    @Option(help: ArgumentHelp("Time to connect to an etcd member (default 1s).", valueName: "duration"))
    var dialTimeout: String?

    @Option(help: ArgumentHelp("Time one store request may take: etcd fail-over, DynamoDB retries included (default 5s).", valueName: "duration"))
    var commandTimeout: String?

    @Option(help: ArgumentHelp("Where logs go: auto (journal when stderr is the journal), journal or console.", valueName: "target"))
    var logTarget: String?

    @Option(help: ArgumentHelp("The shared store: etcd or dynamodb (env SERVICE_MONITOR_BACKEND; default etcd).", valueName: "store"))
    var backend: String?

    @Option(help: ArgumentHelp("DynamoDB table for all state (env SERVICE_MONITOR_DYNAMODB_TABLE; default service-monitor).", valueName: "name"))
    var dynamodbTable: String?

    @Option(help: ArgumentHelp("AWS region of the DynamoDB table (env AWS_REGION, else AWS_DEFAULT_REGION, else the shared config file).", valueName: "region"))
    var region: String?

    @Option(help: ArgumentHelp("DynamoDB endpoint URL (env AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL; default the region's).", valueName: "url"))
    var dynamodbEndpoint: String?

    @Option(help: ArgumentHelp("How often waiting reads DynamoDB again: hosts --wait/--watch, acquire-lease (default 1s).", valueName: "duration"))
    var pollInterval: String?
}

extension GlobalOptions: PlainlyParsable {
    static let plainOptions = PlainOptions(values: [
        "endpoints", "prefix", "cacert", "cert", "key", "user", "host-ip", "dial-timeout", "command-timeout", "log-target",
        "backend", "dynamodb-table", "region", "dynamodb-endpoint", "poll-interval",
    ])

    static func parsed(from line: PlainCommandLine) -> Self {
        var parsed = Self()
        parsed.endpoints = line.value("endpoints")
        parsed.prefix = line.value("prefix")
        parsed.cacert = line.value("cacert")
        parsed.cert = line.value("cert")
        parsed.key = line.value("key")
        parsed.user = line.value("user")
        parsed.hostIP = line.value("host-ip")
        parsed.dialTimeout = line.value("dial-timeout")
        parsed.commandTimeout = line.value("command-timeout")
        parsed.logTarget = line.value("log-target")
        parsed.backend = line.value("backend")
        parsed.dynamodbTable = line.value("dynamodb-table")
        parsed.region = line.value("region")
        parsed.dynamodbEndpoint = line.value("dynamodb-endpoint")
        parsed.pollInterval = line.value("poll-interval")
        return parsed
    }
}

/// The DynamoDB settings, validated; region and endpoint stay `nil` when not given, for the
/// client to resolve as the AWS SDKs do (the shared config file's region, the region's endpoint).
struct DynamoDBSettings: Sendable {
    var layout: TableLayout
    var region: String?
    var endpoint: String?
    var pollInterval: Duration

    init(_ options: GlobalOptions, prefix: String, value: (String?, String...) -> String?) throws {
        layout = try TableLayout(table: value(options.dynamodbTable, "SERVICE_MONITOR_DYNAMODB_TABLE") ?? "service-monitor", prefix: prefix)
        region = try value(options.region, "AWS_REGION", "AWS_DEFAULT_REGION").map { region throws(BadInput) in
            // us-east-1, eu-central-2, cn-north-1, us-gov-west-1: lowercase words and digits.
            let valid = (1...64).contains(region.count) && region.first?.isLetter == true
                && region.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
            guard valid else { throw BadInput(option: "--region", message: "\(region.quotedForError): not an AWS region such as us-east-1") }
            return region
        }
        endpoint = try value(options.dynamodbEndpoint, "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL").map { url throws(BadInput) in
            try Self.endpoint(url)
        }
        pollInterval = try Duration(parsingPositive: options.pollInterval ?? "1s", option: "--poll-interval")
    }

    /// `http(s)://host[:port][/path]`; anything else is bad input.
    static func endpoint(_ url: String) throws(BadInput) -> String {
        let scheme = url.hasPrefix("http://") ? "http://" : url.hasPrefix("https://") ? "https://" : nil
        let rest = scheme.map { url.dropFirst($0.count) } ?? ""
        let authority = rest.prefix { $0 != "/" }
        let port: Substring? = authority.hasSuffix("]") ? nil : authority.lastIndex(of: ":").map { authority[authority.index(after: $0)...] }
        let host = port.map { authority.dropLast($0.count + 1) } ?? authority
        let portValid = port.map { Int($0).map { (1...65535).contains($0) } ?? false } ?? true
        guard scheme != nil, Settings.isEndpointHost(host), portValid, !url.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw BadInput(option: "--dynamodb-endpoint", message: "\(url.quotedForError): not an endpoint URL such as https://dynamodb.us-east-1.amazonaws.com")
        }
        return url
    }
}

/// The global options resolved against the environment and validated, before any etcd call.
struct Settings: Sendable {
    var backend: BackendKind
    /// `--host-ip`, validated; `nil` when not given.
    var hostIP: String?
    var etcd: EtcdClient.Configuration
    var layout: KeyLayout
    var logTarget: LogTarget
    var commandTimeout: Duration
    var dynamoDB: DynamoDBSettings
    /// For the AWS credential chain and shared config files.
    var environment: [String: String]

    init(_ options: GlobalOptions, environment: [String: String]) throws {
        self.environment = environment
        func value(_ flag: String?, _ names: String...) -> String? {
            if let flag { return flag }
            return names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }

        let backendName = value(options.backend, "SERVICE_MONITOR_BACKEND") ?? BackendKind.etcd.rawValue
        guard let backend = BackendKind(rawValue: backendName) else {
            let known = BackendKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw BadInput(option: "--backend", message: "\(backendName.quotedForError): use \(known)")
        }
        self.backend = backend

        let endpointList = value(options.endpoints, "SERVICE_MONITOR_ENDPOINTS", "ETCDCTL_ENDPOINTS") ?? "http://127.0.0.1:2379"
        let endpoints = try Self.endpoints(endpointList)
        layout = try KeyLayout(prefix: value(options.prefix, "SERVICE_MONITOR_PREFIX") ?? "/service-monitor")
        // Validated whichever the backend: an explicit bad value is a typo.
        dynamoDB = try DynamoDBSettings(options, prefix: layout.prefix, value: value)

        let dialTimeout = try Duration(parsingPositive: options.dialTimeout ?? "1s", option: "--dial-timeout")
        commandTimeout = try Duration(parsingPositive: options.commandTimeout ?? "5s", option: "--command-timeout")

        let targetName = options.logTarget ?? "auto"
        guard let target = LogTarget(rawValue: targetName) else {
            throw BadInput(option: "--log-target", message: "\(targetName.debugDescription): use auto, journal or console")
        }
        logTarget = target

        let caFile = value(options.cacert, "ETCDCTL_CACERT")
        let certificateFile = value(options.cert, "ETCDCTL_CERT")
        let keyFile = value(options.key, "ETCDCTL_KEY")
        for (option, file) in [("--cacert", caFile), ("--cert", certificateFile), ("--key", keyFile)] {
            if let file { try ReadableFile.require(file, option: option) }
        }
        if (certificateFile == nil) != (keyFile == nil) {
            throw BadInput(.incompleteConfiguration, option: "--cert", message: "and --key go together: a client certificate needs its key")
        }
        let tls = caFile == nil && certificateFile == nil ? nil
            : EtcdClient.TLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)

        // Validated even where the command publishes no address: an explicit bad value is a typo.
        hostIP = try options.hostIP.map { try HostAddress.resolve(flag: $0, environment: [:]) }

        let credentials = try value(options.user, "ETCDCTL_USER").map {
            try Self.credentials($0, passwordFile: environment["SERVICE_MONITOR_PASSWORD_FILE"])
        }
        etcd = EtcdClient.Configuration(
            endpoints: endpoints,
            dialTimeout: dialTimeout,
            requestTimeout: commandTimeout,
            tls: tls,
            credentials: credentials
        )
    }

    /// The address this host publishes: `--host-ip` as validated above, else found from the
    /// environment (`COREOS_PRIVATE_IPV4`) or the default route.
    func hostAddress(environment: [String: String]) throws(BadInput) -> String {
        if let hostIP { return hostIP }
        return try HostAddress.resolve(flag: nil, environment: environment)
    }

    /// `http://host:port` or `https://host:port`, comma separated; anything else is bad input.
    static func endpoints(_ list: String) throws(BadInput) -> [String] {
        let endpoints = list.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingSpaces()) }
        for endpoint in endpoints {
            let scheme = endpoint.hasPrefix("http://") ? "http://" : endpoint.hasPrefix("https://") ? "https://" : nil
            let rest = scheme.map { endpoint.dropFirst($0.count) } ?? ""
            let hostPort = rest.hasSuffix("/") ? rest.dropLast() : rest
            let port = hostPort.split(separator: ":").last.flatMap { Int($0) }
            let host = hostPort.lastIndex(of: ":").map { hostPort[..<$0] } ?? ""
            guard scheme != nil, !hostPort.contains("/"), hostPort.contains(":"), let port, (1...65535).contains(port),
                  isEndpointHost(host) else {
                throw BadInput(option: "--endpoints", message: "\(endpoint.debugDescription): not an etcd client URL such as http://127.0.0.1:2379")
            }
        }
        return endpoints
    }

    /// A DNS name or IPv4 address, or an IPv6 address in brackets: no spaces, no unicode.
    static func isEndpointHost(_ host: Substring) -> Bool {
        if host.hasPrefix("["), host.hasSuffix("]"), host.count > 2 {
            return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !host.isEmpty && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }
    }

    static func credentials(_ user: String, passwordFile: String?) throws -> EtcdClient.Credentials {
        if let colon = user.firstIndex(of: ":") {
            let name = String(user[..<colon])
            // The password is never echoed.
            guard !name.isEmpty else { throw BadInput(option: "--user", message: "\"\": the user name before the colon is empty") }
            return EtcdClient.Credentials(user: name, password: String(user[user.index(after: colon)...]))
        }
        guard !user.isEmpty else { throw BadInput(option: "--user", message: "\"\": the user name is empty (use name or name:password)") }
        guard let passwordFile else {
            throw BadInput(option: "--user", message: "\(user.debugDescription) has no password: use name:password or SERVICE_MONITOR_PASSWORD_FILE")
        }
        try ReadableFile.require(passwordFile, option: "SERVICE_MONITOR_PASSWORD_FILE")
        var password = try ReadableFile.read(passwordFile, option: "SERVICE_MONITOR_PASSWORD_FILE")
        while password.hasSuffix("\n") || password.hasSuffix("\r") { password.removeLast() }
        return EtcdClient.Credentials(user: user, password: password)
    }
}

/// Files the operator names (TLS files, the password file): one that cannot be read is a
/// configuration problem on the host (``BadInput/Code/unreadableFile``, exit 78).
enum ReadableFile {
    static func require(_ path: String, option: String) throws(BadInput) {
        guard access(path, R_OK) == 0 else {
            throw .badValue(.unreadableFile, option: option, value: path, "cannot read: \(PosixError.reason(of: errno))")
        }
        // access() says yes to a directory, which is no file to read.
        if let directory = opendir(path) {
            closedir(directory)
            throw .badValue(.unreadableFile, option: option, value: path, "cannot read: is a directory, not a file")
        }
    }

    static func read(_ path: String, option: String) throws(BadInput) -> String {
        do {
            return try File.text(atPath: path)
        } catch {
            throw .badValue(.unreadableFile, option: option, value: path, "cannot read")
        }
    }
}
