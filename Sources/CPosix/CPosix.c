// Everything lives in the header as static inline forwards; SwiftPM needs one source file.
#include "CPosix.h"
