// spandsp (libspandsp-dev 0.0.6). SPANDSP_EXPOSE_INTERNAL_STRUCTURES is
// deliberately left undefined: state structures stay opaque and are only
// handled through the *_init / *_free functions.
#ifndef HOTLINE_CSPANDSP_SHIM_H
#define HOTLINE_CSPANDSP_SHIM_H

#include <spandsp.h>

#endif
