// `meridian compose`: a topology rendered as a Docker Compose deployment (cli/compose.cc, the
// rendering itself in topology/compose.h).
#pragma once

namespace meridian::cli {

// `meridian compose --topology FILE --out DIR/NAME.yml [--image IMG] [--publish-host H]
// [--publish-base P]`; argv[1] is "compose". Writes DIR/NAME.yml, DIR/NAME.topology.yaml and,
// when missing, the keys DIR/NAME.access.yaml and DIR/NAME.credentials. Returns 0, 2 on a usage
// error or a topology that cannot be rendered (nothing written), 1 when a file cannot be written.
int CmdCompose(int argc, char** argv);

}  // namespace meridian::cli
