package ai.bakery.cli;

import ai.bakery.runtime.collective.CollectiveBench;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bakery bench <name>}: each benchmark prints a table, or one JSON object per line with {@code --json}.
 * Providers return rows (maps or records) to {@link BenchRows}.
 */
final class BenchCommand extends CommandGroup {
  BenchCommand() {
    super("bench", "measure throughput of the parts of a training step");
    add(pending("model", "forward/backward time and memory of a model preset", "ai.bakery.model benchmark"));
    add(pending("data", "samples/s and tokens/s of the data pipeline (read, transform, pack)",
        "ai.bakery.data.DataBench"));
    add(pending("attention", "packed attention kernels: time and achieved TFLOP/s by sequence length",
        "the attention kernel benchmark"));
    add(pending("step", "a full training step: tokens/s, TFLOP/s and MFU", "the training step benchmark"));
    add(new LeafCommand("collective",
        "all-reduce bus bandwidth of the TCP ring between worker JVMs, next to raw loopback TCP",
        json().option("processes=", "group sizes, comma-separated (default 2,3)")
            .option("min-bytes=", "smallest buffer (default 1 MiB)")
            .option("max-bytes=", "largest buffer (default 256 MiB)"),
        BenchCommand::collective));
    add(pending("flight", "Arrow Flight batch transfer between nodes", "the Flight batch benchmark"));
    add(pending("recovery", "time to recover training after a worker is killed", "the recovery benchmark"));
    add(pending("ingest", "dataset ingest (conversion into Bakery's shard format)", "the ingest benchmark"));
  }

  private static Args.Spec json() {
    return Args.Spec.of().option("json", "one JSON object per line instead of a table");
  }

  private static LeafCommand pending(String name, String summary, String what) {
    return new LeafCommand(name, summary, json(), (args, cli) -> {
      throw new NotAvailableException(args.path(), what);
    });
  }

  private static int collective(Args args, Cli cli) throws Exception {
    CollectiveBench.Config d = CollectiveBench.Config.defaults();
    List<Integer> processes = d.processes();
    if (args.option("processes").isPresent()) {
      processes = new ArrayList<>();
      for (String p : args.option("processes").get().split(",")) {
        try {
          processes.add(Integer.parseInt(p.trim()));
        } catch (NumberFormatException e) {
          throw new UsageException(args.path() + ": --processes expects integers like 2,3, got '" + p + "'");
        }
      }
    }
    CollectiveBench.Config config;
    try {
      config = new CollectiveBench.Config(processes, args.longOption("min-bytes", d.minBytes()),
          args.longOption("max-bytes", d.maxBytes()), d.rawStreamBytes(), d.chunkBytes());
    } catch (IllegalArgumentException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    BenchRows.of(CollectiveBench.runAsMaps(config)).print(cli.out(), args.flag("json"));
    return 0;
  }
}
