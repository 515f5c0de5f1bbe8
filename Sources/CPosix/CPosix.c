// Everything but CPosix_dl_iterate_phdr lives in the header as static inline forwards; that one is
// here because dl_iterate_phdr needs _GNU_SOURCE, which must come before any glibc header.
#define _GNU_SOURCE
#include <link.h>
#include "CPosix.h"

struct CPosix_visit {
    CPosix_loaded_object_visitor visitor;
    void *context;
};

static int CPosix_visit_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct CPosix_visit *visit = data;
    return visit->visitor(info->dlpi_addr, info->dlpi_name, info->dlpi_phdr, info->dlpi_phnum, visit->context);
}

int CPosix_dl_iterate_phdr(CPosix_loaded_object_visitor visitor, void *context) {
    struct CPosix_visit visit = {visitor, context};
    return dl_iterate_phdr(CPosix_visit_object, &visit);
}
