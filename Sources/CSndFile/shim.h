// Exposes libsndfile's C API to Swift (module CSndFile).
#ifndef HOTLINE_CSNDFILE_SHIM_H
#define HOTLINE_CSNDFILE_SHIM_H

#include <sndfile.h>

#endif
