// libopus (libopus-dev 1.3.1). opus_encoder_ctl / opus_decoder_ctl are
// variadic and therefore not callable from Swift; the static inline wrappers
// below expose the requests the AudioCodecs module needs with fixed
// signatures. Each returns OPUS_OK or a negative OPUS_* error code.
#ifndef HOTLINE_COPUS_SHIM_H
#define HOTLINE_COPUS_SHIM_H

#include <opus.h>

static inline int hotline_opus_set_bitrate(OpusEncoder *st, opus_int32 bitsPerSecond) {
    return opus_encoder_ctl(st, OPUS_SET_BITRATE(bitsPerSecond));
}

static inline int hotline_opus_set_inband_fec(OpusEncoder *st, opus_int32 enabled) {
    return opus_encoder_ctl(st, OPUS_SET_INBAND_FEC(enabled));
}

static inline int hotline_opus_set_dtx(OpusEncoder *st, opus_int32 enabled) {
    return opus_encoder_ctl(st, OPUS_SET_DTX(enabled));
}

static inline int hotline_opus_set_packet_loss_perc(OpusEncoder *st, opus_int32 percent) {
    return opus_encoder_ctl(st, OPUS_SET_PACKET_LOSS_PERC(percent));
}

static inline int hotline_opus_set_complexity(OpusEncoder *st, opus_int32 complexity) {
    return opus_encoder_ctl(st, OPUS_SET_COMPLEXITY(complexity));
}

static inline int hotline_opus_encoder_reset(OpusEncoder *st) {
    return opus_encoder_ctl(st, OPUS_RESET_STATE);
}

static inline int hotline_opus_decoder_reset(OpusDecoder *st) {
    return opus_decoder_ctl(st, OPUS_RESET_STATE);
}

#endif
