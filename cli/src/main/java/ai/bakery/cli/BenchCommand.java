package ai.bakery.cli;

import ai.bakery.actors.bench.FlightBench;
import ai.bakery.data.DataConfig;
import ai.bakery.data.bench.DataBench;
import ai.bakery.runtime.collective.CollectiveBench;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bakery bench <name>}: each benchmark prints a table, or one JSON object per line with {@code --json}.
 * Providers return rows (maps or records) to {@link BenchRows}.
 */
final class BenchCommand extends CommandGroup {
  BenchCommand() {
    super("bench", "measure throughput of the parts of a training step");
    add(new LeafCommand("model",
        "forward+backward time per token of presets' language models (fp32), MFU against a measured GEMM rate",
        presetBench(), (args, cli) -> presetRows(args, cli, true)));
    add(new LeafCommand("data",
        "tokens/s and images/s of the data pipeline on the example dataset, next to raw image decoding",
        json().option("packs=", "packs timed (default 100)")
            .option("workers=", "loader workers (default 2)")
            .option("max-num-tokens=", "pack size cap (default 4096)")
            .option("dir=", "where the example dataset is written (default: a temporary folder)"),
        BenchCommand::data));
    add(new LeafCommand("attention",
        "forward+backward time and peak memory of the attention kernels (eager, sdpa, nsa) by packed length",
        json().option("lengths=", "sample lengths in tokens, comma-separated (default 1024,4096)")
            .option("kernels=", "kernels, comma-separated (default eager,sdpa,nsa)"),
        BenchCommand::attention));
    add(new LeafCommand("step",
        "LLM training step in fp32/bf16, with and without recompute: tokens/s, GFLOP/s, MFU, peak memory",
        presetBench(), (args, cli) -> presetRows(args, cli, false)));
    add(new LeafCommand("collective",
        "all-reduce bus bandwidth of the TCP ring between worker JVMs, next to raw loopback TCP",
        json().option("processes=", "group sizes, comma-separated (default 2,3)")
            .option("min-bytes=", "smallest buffer (default 1 MiB)")
            .option("max-bytes=", "largest buffer (default 256 MiB)"),
        BenchCommand::collective));
    add(new LeafCommand("flight",
        "packed batches from a data shard's Flight server to a worker JVM over loopback, next to an in-process copy",
        json().option("tokens=", "pack sizes in tokens, comma-separated (default 4096,10240,32768)")
            .option("batches=", "batches per size (default 12)"),
        BenchCommand::flight));
    add(new LeafCommand("recovery",
        "checkpoint stall (snapshot to host) vs whole sharded save vs a training step; kill-to-first-commit of a "
            + "3-worker cluster",
        json().option("presets=", "presets under configs/model, comma-separated (default tiny,mid)")
            .option("worlds=", "ranks per checkpoint save, comma-separated (default 1,3)")
            .option("saves=", "saves timed per world, the first reported apart (default 3)")
            .option("tokens=", "tokens per timed training step (default 2048)")
            .option("sample-len=", "tokens per packed sample (default 1024)")
            .option("steps=", "timed training steps, best kept (default 2)")
            .option("dir=", "where the checkpoints are written (default: a temporary folder)")
            .option("skip-cluster", "only the checkpoint rows (the cluster kill takes minutes: N+2 JVMs start)")
            .option("warm-steps=", "steps the cluster commits before the kill (default 3)")
            .option("coordinator-kill", "also kill the coordinator of a cluster with a stand-by coordinator and time "
                + "the fail-over")
            .option("heartbeat-pause=", "failure detector's acceptable heartbeat pause in s (default: cluster up's "
                + "loopback profile, 3 s)"),
        BenchCommand::recovery));
    add(new LeafCommand("ingest",
        "live ingest: samples/s accepted by the HTTP endpoint (fsynced) and packed by a pipeline reading it",
        json().option("seconds=", "measured window (default 5)")
            .option("clients=", "concurrent posting clients (default 4)")
            .option("lines=", "JSON lines per request (default 16)")
            .option("max-pending=", "the endpoint's max_pending (default 4096)")
            .option("kafka-bootstrap=", "also measure a Kafka topic on these brokers (host:port)")
            .option("kafka-topic=", "the topic for --kafka-bootstrap (default bakery-bench-ingest)"),
        BenchCommand::ingest));
  }

  private static Args.Spec json() {
    return Args.Spec.of().option("json", "one JSON object per line instead of a table");
  }

  private static int recovery(Args args, Cli cli) throws Exception {
    ai.bakery.runtime.checkpoint.CheckpointBench.Config d = ai.bakery.runtime.checkpoint.CheckpointBench.Config
        .defaults();
    List<String> presets = args.option("presets").map(p -> List.of(p.split(","))).orElse(d.presets()).stream()
        .map(String::trim).toList();
    Path presetDir = ModelCommand.home().resolve("configs").resolve("model");
    for (String p : presets) {
      if (!Files.isDirectory(presetDir.resolve(p))) {
        throw new UsageException(args.path() + ": no preset '" + p + "' in " + presetDir);
      }
    }
    ai.bakery.runtime.checkpoint.CheckpointBench.Config config;
    try {
      config = new ai.bakery.runtime.checkpoint.CheckpointBench.Config(presets,
          args.option("worlds").isPresent() ? ints(args, "worlds") : d.worlds(), (int) args.longOption("saves",
          d.saves()), (int) args.longOption("tokens", d.tokens()), (int) args.longOption("sample-len",
          d.sampleLen()), (int) args.longOption("steps", d.steps()));
    } catch (IllegalArgumentException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    Path dir = args.option("dir").map(Path::of).orElse(null);
    boolean temporary = dir == null;
    if (temporary) {
      dir = Files.createTempDirectory("bakery-bench-recovery");
    }
    List<java.util.Map<String, Object>> rows = new ArrayList<>();
    try {
      rows.addAll(ai.bakery.runtime.checkpoint.CheckpointBench.run(presetDir, dir, config));
    } finally {
      if (temporary) {
        deleteTree(dir);
      }
    }
    if (!args.flag("skip-cluster")) {
      rows.addAll(clusterRecoveryRows(args, cli));
    }
    BenchRows.of(rows).print(cli.out(), args.flag("json"));
    return 0;
  }

  /**
   * The cluster half of {@code bench recovery}: a 3-worker {@code cluster up} on loopback trains the tiny preset, one
   * worker is killed with SIGKILL, and the row gives the kill to its removal from membership, to the survivors'
   * new group, and to that group's first committed step, plus the steps lost. The nodes' output goes to stderr.
   */
  static List<java.util.Map<String, Object>> clusterRecoveryRows(Args args, Cli cli) throws Exception {
    ai.bakery.actors.launch.RecoveryBench.Config d = ai.bakery.actors.launch.RecoveryBench.Config.defaults();
    ai.bakery.actors.launch.RecoveryBench.Config config;
    try {
      config = new ai.bakery.actors.launch.RecoveryBench.Config(d.workers(), (int) args.longOption("warm-steps",
          d.warmSteps()), (int) args.longOption("heartbeat-pause", d.heartbeatPause()), d.timeoutSeconds(),
          d.startSeconds(), d.heap());
    } catch (IllegalArgumentException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    Path tiny = ModelCommand.home().resolve("configs").resolve("model").resolve("tiny");
    if (!Files.isRegularFile(tiny.resolve("config.json"))) {
      throw new UsageException(args.path() + ": the cluster kill trains the tiny preset, not found at " + tiny);
    }
    List<java.util.Map<String, Object>> rows = new ArrayList<>(
        ai.bakery.actors.launch.RecoveryBench.rows(tiny, config, cli.err()));
    if (args.flag("coordinator-kill")) {
      rows.addAll(ai.bakery.actors.launch.RecoveryBench.coordinatorKillRows(tiny, config, cli.err()));
    }
    return rows;
  }

  private static int flight(Args args, Cli cli) throws Exception {
    FlightBench.Config d = FlightBench.Config.defaults();
    List<Integer> tokens = args.option("tokens").isPresent() ? ints(args, "tokens") : d.tokens();
    var config = new FlightBench.Config(tokens, (int) args.longOption("batches", d.batches()));
    BenchRows.of(FlightBench.run(config)).print(cli.out(), args.flag("json"));
    return 0;
  }

  private static List<Integer> ints(Args args, String option) {
    List<Integer> out = new ArrayList<>();
    for (String p : args.option(option).orElseThrow().split(",")) {
      try {
        int v = Integer.parseInt(p.trim());
        if (v < 1) {
          throw new NumberFormatException();
        }
        out.add(v);
      } catch (NumberFormatException e) {
        throw new UsageException(args.path() + ": --" + option + " expects positive integers like 2,3, got '" + p
            + "'");
      }
    }
    return out;
  }

  private static Args.Spec presetBench() {
    return json().option("presets=", "presets under configs/model, comma-separated (default tiny)")
        .option("tokens=", "tokens per step (default 4096)")
        .option("sample-len=", "tokens per packed sample (default 1024)")
        .option("steps=", "timed steps (default 3)");
  }

  private static int presetRows(Args args, Cli cli, boolean modelOnly) {
    List<String> presets = List.of(args.option("presets").orElse("tiny").split(","));
    Path dir = ModelCommand.home().resolve("configs").resolve("model");
    for (String p : presets) {
      if (!Files.isDirectory(dir.resolve(p.trim()))) {
        throw new UsageException(args.path() + ": no preset '" + p + "' in " + dir);
      }
    }
    int tokens = (int) args.longOption("tokens", 4096);
    int sampleLen = (int) args.longOption("sample-len", 1024);
    int steps = (int) args.longOption("steps", 3);
    List<String> names = presets.stream().map(String::trim).toList();
    var rows = modelOnly ? new ai.bakery.model.bench.ModelBench(dir).run(names, tokens, sampleLen, steps)
        : new ai.bakery.model.bench.StepBench(dir).run(names, tokens, sampleLen, steps);
    BenchRows.of(rows).print(cli.out(), args.flag("json"));
    return 0;
  }

  private static int attention(Args args, Cli cli) {
    List<Integer> lengths = args.option("lengths").isPresent() ? ints(args, "lengths") : List.of(1024, 4096);
    List<String> kernels = List.of(args.option("kernels").orElse("eager,sdpa,nsa").split(","));
    var rows = ai.bakery.model.bench.AttentionBench.defaults()
        .run(lengths.stream().mapToInt(Integer::intValue).toArray(), kernels);
    BenchRows.of(rows).print(cli.out(), args.flag("json"));
    return 0;
  }

  private static int data(Args args, Cli cli) throws Exception {
    Path dir = args.option("dir").map(Path::of).orElse(null);
    boolean temporary = dir == null;
    if (temporary) {
      dir = Files.createTempDirectory("bakery-bench-data");
    }
    try {
      int max = (int) args.longOption("max-num-tokens", 4096);
      // The example dataset is small: short JSONL units so every loader worker gets shards.
      DataConfig config = DataConfig.defaults().withTokens(max * 7 / 8, max, max * 7 / 8, max / 2, 10)
          .withLoading((int) args.longOption("workers", 2), 2, 42).withRowsPerUnit(8);
      BenchRows.of(DataBench.onExample(dir, config, (int) args.longOption("packs", 100)))
          .print(cli.out(), args.flag("json"));
    } finally {
      if (temporary) {
        deleteTree(dir);
      }
    }
    return 0;
  }

  private static int ingest(Args args, Cli cli) throws Exception {
    ai.bakery.data.live.IngestBench.Config d = ai.bakery.data.live.IngestBench.Config.defaults();
    ai.bakery.data.live.IngestBench.Config config;
    try {
      config = new ai.bakery.data.live.IngestBench.Config((int) args.longOption("clients", d.clients()),
          (int) args.longOption("lines", d.linesPerRequest()), args.longOption("seconds", (long) d.seconds()),
          (int) args.longOption("max-pending", d.maxPending()));
    } catch (IllegalArgumentException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    Path dir = Files.createTempDirectory("bakery-bench-ingest");
    try {
      DataConfig data = DataConfig.defaults().withTokens(3584, 4096, 3584, 2048, 10).withLoading(1, 2, 42);
      List<java.util.Map<String, Object>> rows = new ArrayList<>(ai.bakery.data.live.IngestBench.run(dir, data,
          config));
      if (args.option("kafka-bootstrap").isPresent()) {
        rows.addAll(ai.bakery.data.live.IngestBench.runKafka(args.option("kafka-bootstrap").orElseThrow(),
            args.option("kafka-topic").orElse("bakery-bench-ingest"), data, config.seconds()));
      }
      BenchRows.of(rows).print(cli.out(), args.flag("json"));
    } finally {
      deleteTree(dir);
    }
    return 0;
  }

  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static int collective(Args args, Cli cli) throws Exception {
    CollectiveBench.Config d = CollectiveBench.Config.defaults();
    List<Integer> processes = args.option("processes").isPresent() ? ints(args, "processes") : d.processes();
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
