// runc's checkpoint and restore verbs, which need CRIU: tsbox-runc has them so
// that engines and people asking about them (`tsbox-runc checkpoint -h`) get
// runc's answer shape, and refuses them with one line when called.

import type { Command } from "commander";
import { UsageError } from "../errors.js";

const REFUSAL = "checkpoint/restore is not supported by tsbox-runc (it has no CRIU support)";

export function registerCheckpoint(program: Command): void {
  program.command("checkpoint").argument("<container-id>").description("checkpoint a running container (not supported)")
    .allowUnknownOption(true)
    .action(() => { throw new UsageError(REFUSAL, 1); });
  program.command("restore").argument("<container-id>").description("restore a container from a previous checkpoint (not supported)")
    .allowUnknownOption(true)
    .action(() => { throw new UsageError(REFUSAL, 1); });
}
