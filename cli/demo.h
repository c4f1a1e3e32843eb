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

// `meridian demo [--regions N [--base-port P] | --topology FILE] [--data DIR] [--no-auth] [--restart]
// [--workload]`; argv[1] is "demo".
//
// --topology FILE runs FILE's regions instead of planned ones: every host must be local
// (127.0.0.1, localhost, ::1) and every port a real one. FILE is copied as DIR/topology.yaml
// with its data folders (and TLS files) made absolute against FILE's folder, so the data lives
// where FILE says, not under DIR. A DIR that already holds another topology is refused.
//
// --workload runs the demo workload (cli/demo_workload.h) once every node is up, as a child
// process whose report goes to the demo's output; the demo then keeps serving. When a demo is
// already running on DIR (its run/demo.pid is live), the workload runs against it instead and
// this returns its exit code (0 when every item arrived).
//
// Returns the process exit code: 0 after a clean stop (Ctrl-C / SIGTERM), 1 when the nodes could
// not be started, all of them stopped by themselves, or the --workload failed; 2 on a usage error
// (a bad FILE included) or a folder that is already in use by a live demo or holds another
// topology.
int CmdDemo(int argc, char** argv);

}  // namespace meridian::cli
