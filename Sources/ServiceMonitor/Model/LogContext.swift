public import Logging

extension Logger {
    /// This logger with the context every entry about an instance carries — journald fields
    /// SERVICE_MONITOR_LABEL, SERVICE_MONITOR_SERVICE_ID and (when known) SERVICE_MONITOR_HOST,
    /// which `journalctl SERVICE_MONITOR_LABEL=…` filters on.
    public func withInstanceContext(label: Label, serviceID: ServiceID, host: String? = nil) -> Logger {
        var logger = self
        logger[metadataKey: "service_monitor.label"] = "\(label)"
        logger[metadataKey: "service_monitor.service_id"] = "\(serviceID)"
        if let host { logger[metadataKey: "service_monitor.host"] = "\(host)" }
        return logger
    }
}
