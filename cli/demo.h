// `meridian demo`: local regions of three facility nodes each on 127.0.0.1, launched as
// `meridian start` children of one supervising process, in one data folder laid out as the
// operator conventions say (../shared/DESIGN.md): DIR/topology.yaml with the real ports,
// DIR/credentials and DIR/access.yaml (one key set for the topology), DIR/run/<region>-<facility>.pid,
// DIR/log/<region>-<facility>.log and the data under DIR/<region>/<facility>. A second run on the
// same folder reuses all of it, so the data resumes.
//
// Thread-safety: CmdDemo runs on the main thread of the process and owns it (it blocks the stop
// signals and forks); it is meant to be the whole of a `meridian demo` process.
#pragma once

namespace meridian::cli {

// `meridian demo [--regions N] [--data DIR] [--base-port P] [--no-auth] [--restart]`; argv[1] is
// "demo". Returns the process exit code: 0 after a clean stop (Ctrl-C / SIGTERM), 1 when the nodes
// could not be started or all of them stopped by themselves, 2 on a usage error or a folder that
// is already in use by a live demo.
int CmdDemo(int argc, char** argv);

}  // namespace meridian::cli
