"""The pjsua2 endpoint every interop phone script starts the same way (PEERS.md): no pjsua
threads (the script polls), no VAD or echo canceller (audio is recorded as received), a UDP,
TCP or TLS transport bound to 127.0.0.1, and the null sound device so that the media clock
runs without hardware."""
import pjsua2 as pj

LOCAL = "127.0.0.1"


def start_endpoint(clock_rate: int = 8000, log_level: int = 3, transport: int = pj.PJSIP_TRANSPORT_UDP,
                   max_calls: int = 4) -> pj.Endpoint:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = False
    cfg.uaConfig.maxCalls = max_calls
    cfg.logConfig.level = log_level
    cfg.logConfig.consoleLevel = log_level
    cfg.medConfig.clockRate = clock_rate
    cfg.medConfig.sndClockRate = clock_rate
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = LOCAL
    tcfg.publicAddress = LOCAL
    ep.transportCreate(transport, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    return ep
