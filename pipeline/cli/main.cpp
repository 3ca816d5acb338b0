// SPDX-License-Identifier: Apache-2.0
#include "pipeline/cli/commands.hpp"

int main(int argc, char** argv) { return fieldrx::cli_main(argc, argv); }
