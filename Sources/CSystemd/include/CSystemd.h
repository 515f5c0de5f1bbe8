// Prefixed forwards to the few libsystemd calls service-monitor needs. Swift cannot call the
// variadic sd_journal_send, so journald entries go through the iovec form.
#ifndef C_SYSTEMD_H
#define C_SYSTEMD_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
// Without this, sd-journal.h turns sd_journal_sendv into a macro that adds the C shim's own
// CODE_FILE/CODE_LINE/CODE_FUNC; the Swift caller supplies the real location.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

static inline int CSystemd_sd_notify(int unset_environment, const char *state) {
    return sd_notify(unset_environment, state);
}

static inline int CSystemd_sd_pid_notify(pid_t pid, int unset_environment, const char *state) {
    return sd_pid_notify(pid, unset_environment, state);
}

static inline int CSystemd_sd_watchdog_enabled(int unset_environment, uint64_t *usec) {
    return sd_watchdog_enabled(unset_environment, usec);
}

static inline int CSystemd_sd_journal_sendv(const struct iovec *iov, int n) {
    return sd_journal_sendv(iov, n);
}

static inline int CSystemd_sd_booted(void) {
    return sd_booted();
}

#endif
