// SPDX-License-Identifier: Apache-2.0
#pragma once
// The fieldrx command line: `fieldrx <command> ...`. Exit codes: 0 done, 1 unexpected
// failure, 2 bad command line or config, 3 input data unfit for the job, 4 file I/O failed.
namespace fieldrx {

int cli_main(int argc, char** argv);

}  // namespace fieldrx
