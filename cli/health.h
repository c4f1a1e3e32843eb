// `meridian health`: the health check of the containers `meridian compose` renders (cli/health.cc).
#pragma once

namespace meridian::cli {

// `meridian health URL [--timeout-ms N]`; argv[1] is "health". URL is http://HOST:PORT/PATH or
// https://... (healthy on a 2xx answer to GET PATH) or tcp://HOST:PORT (healthy when a connection
// is accepted). Returns 0 when healthy, 3 when not (or no verdict within the timeout, default
// 2000 ms), 2 on a usage error.
int CmdHealth(int argc, char** argv);

}  // namespace meridian::cli
