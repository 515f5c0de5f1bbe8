import ServiceMonitorCLI

await ServiceMonitorCommand.runAsMain()
